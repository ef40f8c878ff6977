# Names the local images are imported under in containerd's k8s.io namespace. Sourced, never run.
# The pause name must equal containerd's sandbox_image (no registry: CRI must find it locally).
PAUSE_IMAGE="${HAEIN_PAUSE_IMAGE:-localhost/haein/pause:3.10-haein}"
BUSYBOX_IMAGE="${HAEIN_BUSYBOX_IMAGE:-localhost/haein/busybox:local}"
HAEIN_IMAGE_REPO="${HAEIN_IMAGE_REPO:-localhost/haein/haein}"
HAEIN_IMAGE_TAG="${HAEIN_IMAGE_TAG:-dev}"
HAEIN_IMAGE="$HAEIN_IMAGE_REPO:$HAEIN_IMAGE_TAG"
# Where built image tars are cached, one file per image plus the input key it was built from.
IMAGE_CACHE="${HAEIN_CACHE}/images"
