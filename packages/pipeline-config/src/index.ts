// @jetbridge/pipeline-config: Pipeline YAML: parsing and validation (filled by the pipelines issue).
export {};
