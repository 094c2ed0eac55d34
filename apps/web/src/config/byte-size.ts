// Sizes of settings such as --max-artifact-upload-size: a number with an optional unit.
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
};

/** `10MB`, `2GB`, `512` (bytes). Binary multiples, as operators expect of memory-like sizes. */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?B?)$/i.exec(text.trim());
  if (!m) return undefined;
  const unitKey = (m[2] ?? '').toUpperCase();
  const unit =
    SIZE_UNITS[
      unitKey === 'K' || unitKey === 'M' || unitKey === 'G' || unitKey === 'T' ? `${unitKey}B` : unitKey
    ];
  if (unit === undefined) return undefined;
  return Math.floor(Number(m[1]) * unit);
}
