#!/usr/bin/env bash
# Runs the Kubernetes runtime's end-to-end tests against a real cluster (kind, k3s, any cluster a kubeconfig
# reaches) instead of the in-repo test server. Skipped (exit 0, saying why) unless a cluster is configured:
# JETBRIDGE_REAL_CLUSTER=1, or KUBECONFIG set.
#
#   KUBECONFIG=~/.kube/kind-config scripts/k8s-e2e-real-cluster.sh            # builds + loads the helper image
#   JETBRIDGE_HELPER_IMAGE=registry.example/ci/jetbridge-helper:dev scripts/k8s-e2e-real-cluster.sh
#
# What it runs: packages/runtime-k8s/src/k8s-real-cluster.test.ts — the runtime conformance suite in stream
# mode (the test process needs nothing but the kubeconfig: artifacts travel through exec), a web restart that
# collects a finished step's outputs, a pod deleted under a running step, and no pod left after close. With
# JETBRIDGE_E2E_CLAIM and JETBRIDGE_E2E_CLAIM_DIR (a ReadWriteMany claim mounted at that path in the process
# running this, e.g. a pod in the cluster) the conformance suite also runs in pvc mode. The fault tests that
# need the test server's fault injection (dropped exec sockets, evictions, held scheduling, expired watches)
# only run against the test server: `node … jest.js packages/runtime-k8s`.
#
# Settings (environment):
#   KUBECONFIG                  the cluster (default ~/.kube/config once JETBRIDGE_REAL_CLUSTER=1)
#   JETBRIDGE_HELPER_IMAGE      a helper image the cluster can pull; unset: built with ./build.sh --target
#                               helper and loaded into kind (KIND_CLUSTER, default "kind") or k3s (JETBRIDGE_K3S=1)
#   JETBRIDGE_E2E_NAMESPACE     namespace for the step pods (default jetbridge-e2e-<time>; created with Pod
#                               Security "baseline" and deleted afterwards when the tests created it)
#   JETBRIDGE_E2E_STEP_IMAGE    image of the test steps (default busybox:stable: needs sh, cat, sleep, ls)
#   JETBRIDGE_E2E_CLAIM, JETBRIDGE_E2E_CLAIM_DIR   optional, pvc mode (see above)
#
# The kubeconfig's user needs, in that namespace: pods get/list/watch/create/delete/patch, pods/exec get+create,
# pods/log get, events list; and namespaces get/create/delete unless the namespace exists already.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "${JETBRIDGE_REAL_CLUSTER:-}" != "1" ] && [ -z "${KUBECONFIG:-}" ]; then
  echo "k8s-e2e-real-cluster: skipped — no real cluster configured (set KUBECONFIG, or JETBRIDGE_REAL_CLUSTER=1 for ~/.kube/config)"
  exit 0
fi
export KUBECONFIG="${KUBECONFIG:-$HOME/.kube/config}"
if [ ! -r "$KUBECONFIG" ]; then
  echo "k8s-e2e-real-cluster: cannot read the kubeconfig $KUBECONFIG" >&2
  exit 2
fi

if [ -z "${JETBRIDGE_HELPER_IMAGE:-}" ]; then
  docker="${DOCKER:-docker}"
  if ! command -v "$docker" >/dev/null; then
    echo "k8s-e2e-real-cluster: set JETBRIDGE_HELPER_IMAGE (an image the cluster can pull), or install $docker to build one" >&2
    exit 2
  fi
  # build.sh names the helper image after the server's repository: jetbridge-e2e-helper:local.
  ./build.sh --target helper --tag jetbridge-e2e:local
  JETBRIDGE_HELPER_IMAGE="jetbridge-e2e-helper:local"
  if [ "${JETBRIDGE_K3S:-}" = "1" ]; then
    "$docker" save "$JETBRIDGE_HELPER_IMAGE" | sudo k3s ctr images import -
  elif command -v kind >/dev/null; then
    kind load docker-image "$JETBRIDGE_HELPER_IMAGE" --name "${KIND_CLUSTER:-kind}"
  else
    echo "k8s-e2e-real-cluster: built $JETBRIDGE_HELPER_IMAGE, but found neither kind nor JETBRIDGE_K3S=1 to load it into the cluster; push it and set JETBRIDGE_HELPER_IMAGE" >&2
    exit 2
  fi
fi

export JETBRIDGE_REAL_CLUSTER=1
export JETBRIDGE_HELPER_IMAGE
export JETBRIDGE_E2E_NAMESPACE="${JETBRIDGE_E2E_NAMESPACE:-jetbridge-e2e-$(date +%s)}"
echo "k8s-e2e-real-cluster: $KUBECONFIG, namespace $JETBRIDGE_E2E_NAMESPACE, helper image $JETBRIDGE_HELPER_IMAGE"

[ -d node_modules ] || npx -y pnpm@10 install --frozen-lockfile
exec node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js \
  --runInBand packages/runtime-k8s/src/k8s-real-cluster.test.ts
