/**
 * Wait until every promise has settled or `ms` have passed, whichever is first. Shutdown uses it: checks
 * still running past their grace are ended by the build tracker, so they need no waiting for.
 */
export async function settleWithin(promises: Iterable<Promise<unknown>>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...promises]),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
