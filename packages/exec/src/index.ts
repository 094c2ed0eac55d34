// @jetbridge/exec: Executes build plans step by step against a Worker and emits build events.
export {};
