/** Entry point of the slice map page bundle (built by hack/build-slice-map-page.mjs into dist/). */
import { render } from 'preact';
import { App } from './app.js';

render(<App />, document.getElementById('app') as HTMLElement);
