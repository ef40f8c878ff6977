/**
 * How many cases a property test tries. Under mutation testing (`npm run test:mutation` sets HAEIN_MUTATION)
 * every surviving mutant runs each covering property in full, so the counts shrink to a quarter there.
 */
export function runs(n: number): number {
  return process.env.HAEIN_MUTATION ? Math.max(10, Math.ceil(n / 4)) : n;
}

/** A minimum count a test expects of its generators, shrunk like {@link runs}. */
export function share(n: number): number {
  return process.env.HAEIN_MUTATION ? Math.ceil(n / 4) : n;
}
