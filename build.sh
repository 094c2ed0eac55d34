#!/usr/bin/env bash
# Build (and optionally push) JetBridge's images from Dockerfile.build.
#
#   ./build.sh                         jetbridge:local, jetbridge-helper:local, jetbridge-artifact-daemon:local
#   ./build.sh --tag registry.example/ci/jetbridge:0.1.0 --push
#   ./build.sh --target helper         one target only: server, helper or artifact-daemon
#   ./build.sh --dry-run               print the exact commands, run nothing
#
# The helper's (and artifact daemon's) image name is the server's repository with `-helper`
# (`-artifact-daemon`) appended, same tag — what the chart assumes when kubernetes.helperImage (artifactDaemon.image) is empty.
# DOCKER=podman ./build.sh uses another client with the same command line.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

tag="jetbridge:local"
targets=()
push=false
dry_run=false
docker_cmd="${DOCKER:-docker}"

while [ $# -gt 0 ]; do
  case "$1" in
    --tag | -t)
      [ $# -ge 2 ] || { echo "build.sh: $1 needs a value" >&2; exit 2; }
      tag="$2"
      shift 2
      ;;
    --tag=*) tag="${1#--tag=}"; shift ;;
    --target)
      [ $# -ge 2 ] || { echo "build.sh: $1 needs a value" >&2; exit 2; }
      targets+=("$2")
      shift 2
      ;;
    --target=*) targets+=("${1#--target=}"); shift ;;
    --push) push=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    --help | -h) usage; exit 0 ;;
    *) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

[ ${#targets[@]} -gt 0 ] || targets=(server helper artifact-daemon)

# repository[:tag] → repository and tag; a registry port (host:5000/name) is not a tag.
last="${tag##*/}"
if [[ "$last" == *:* ]]; then
  repository="${tag%:*}"
  version="${tag##*:}"
else
  repository="$tag"
  version="local"
fi

image_for() {
  case "$1" in
    server) echo "${repository}:${version}" ;;
    helper) echo "${repository}-helper:${version}" ;;
    artifact-daemon) echo "${repository}-artifact-daemon:${version}" ;;
    *) echo "build.sh: unknown target '$1' (server, helper or artifact-daemon)" >&2; return 2 ;;
  esac
}

# Prints the command (shell-quoted, so it can be pasted), then runs it unless --dry-run.
run() {
  local quoted
  printf -v quoted '%q ' "$@"
  echo "${quoted% }"
  if [ "$dry_run" = false ]; then "$@"; fi
}

done_lines=()
for target in "${targets[@]}"; do
  image="$(image_for "$target")"
  run "$docker_cmd" build -f Dockerfile.build --target "$target" -t "$image" .
  if [ "$push" = true ]; then
    run "$docker_cmd" push "$image"
    done_lines+=("built and pushed ${image} (target ${target})")
  else
    done_lines+=("built ${image} (target ${target})")
  fi
done

if [ "$dry_run" = true ]; then
  echo "dry run: nothing was built" >&2
else
  printf '%s\n' "${done_lines[@]}" >&2
fi
