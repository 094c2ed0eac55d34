// @jetbridge/artifact-store: Artifacts as directories: allocation, tar in/out, safe extraction, reaping.
export {
  ownerKey,
  isValidHandle,
  type Artifact,
  type ArtifactOwner,
  type ArtifactSpec,
  type ArtifactType,
} from './artifact.js';
export { ArtifactStore, type ArtifactStoreOptions } from './store.js';
export type { ArtifactRegistry } from './registry.js';
export { InMemoryArtifactRegistry, type InMemoryArtifactRegistryOptions } from './in-memory-registry.js';
export { extractTar, type ExtractOptions, type ExtractResult } from './tar-extract.js';
export { createTarStream, lendTarChunks, type LentTarChunks, type TarStreamOptions } from './tar-create.js';
export type { ArtifactLocation } from './location.js';
export { ArtifactReaper, type ArtifactReaperOptions, type ReapResult } from './reaper.js';
export { PeriodicReaping, type PeriodicReapingHooks, type ReapingPassResult } from './periodic-reaping.js';
export {
  ArtifactStoreError,
  ArtifactNotFoundError,
  ArtifactExistsError,
  InvalidArtifactPathError,
  InvalidArtifactSpecError,
  ArtifactTooLargeError,
  UnsafeArchiveError,
  CorruptArchiveError,
  formatBytes,
} from './errors.js';
