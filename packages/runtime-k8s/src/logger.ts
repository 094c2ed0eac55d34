/** Where the Kubernetes runtime reports what it does; a pino logger fits as it is. */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
};
