// @jetbridge/artifact-store: Artifacts as directories: allocation, tar in/out, safe extraction, reaping.
export {};
