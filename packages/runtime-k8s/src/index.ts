// @jetbridge/runtime-k8s: Runs steps as Kubernetes pods (filled by the Kubernetes runtime issue).
export {};
