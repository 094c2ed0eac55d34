// @jetbridge/runtime-k8s: runs steps as Kubernetes pods. First slice: the exec transport (src/exec/).
export * from './exec/index.js';
