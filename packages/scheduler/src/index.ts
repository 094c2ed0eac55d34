// @jetbridge/scheduler: Job scheduling and input selection (filled by the pipelines issue).
export {};
