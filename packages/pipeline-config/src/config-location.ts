// How the validator names a config entry (atc/configvalidate): `resources[2]` when it has no name,
// otherwise `resources.<name>`.

export function entryLocation(section: string, index: number): string {
  return `${section}[${index}]`;
}

export function entryIdentifier(section: string, index: number, name: string): string {
  return name === '' ? entryLocation(section, index) : `${section}.${name}`;
}
