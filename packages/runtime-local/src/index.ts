// @jetbridge/runtime-local: Runs steps as host processes (the embedded default).
export {};
