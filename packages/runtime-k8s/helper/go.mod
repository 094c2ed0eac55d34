module jetbridge.dev/runtime-k8s/helper

go 1.22
