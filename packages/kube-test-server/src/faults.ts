/** Make the next `count` requests matching method+path fail with `status` (default 500 InternalError). */
export interface RequestFault {
  method?: string;
  /** An exact path (`/api/v1/namespaces/ns/pods`) or a pattern tested against the path. */
  path: string | RegExp;
  count: number;
  status?: number;
  message?: string;
  /** Answer with this Retry-After header (seconds), as a throttling API server does with 429. */
  retryAfterSeconds?: number;
  /** Instead of answering, cut the connection (a TCP reset, as when the API server restarts). */
  reset?: boolean;
}

/** What a matched fault makes the server do with the request. */
export interface TakenRequestFault {
  status: number;
  message: string;
  retryAfterSeconds?: number;
  reset: boolean;
}

/** Cut the next `count` exec sockets abruptly (TCP reset, no close frame, no status) after `afterBytes`. */
export interface ExecDrop {
  afterBytes: number;
  /** Count bytes sent to the client (stdout+stderr, the default) or received from it (stdin). */
  direction?: 'output' | 'stdin';
  count?: number;
}

interface ArmedRequestFault {
  method?: string;
  path: string | RegExp;
  remaining: number;
  status: number;
  message: string;
  retryAfterSeconds?: number;
  reset: boolean;
}

/** Request-level fault rules; the server consults them before routing any request or upgrade. */
export class FaultRules {
  private readonly requestFaults: ArmedRequestFault[] = [];
  private readonly execDrops: { afterBytes: number; direction: 'output' | 'stdin'; remaining: number }[] = [];

  /** Arms the fault; the returned function disarms what is left of it. */
  failNextRequests(fault: RequestFault): () => void {
    const armed: ArmedRequestFault = {
      ...(fault.method ? { method: fault.method.toUpperCase() } : {}),
      path: fault.path,
      remaining: fault.count,
      status: fault.status ?? 500,
      message: fault.message ?? 'injected failure (kube-test-server fault)',
      ...(fault.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: fault.retryAfterSeconds }),
      reset: fault.reset ?? false,
    };
    this.requestFaults.push(armed);
    return () => {
      armed.remaining = 0;
    };
  }

  takeRequestFault(method: string, pathname: string): TakenRequestFault | undefined {
    for (const fault of this.requestFaults) {
      if (fault.remaining <= 0) continue;
      if (fault.method !== undefined && fault.method !== method) continue;
      const matches = typeof fault.path === 'string' ? fault.path === pathname : fault.path.test(pathname);
      if (!matches) continue;
      fault.remaining -= 1;
      return {
        status: fault.status,
        message: fault.message,
        ...(fault.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: fault.retryAfterSeconds }),
        reset: fault.reset,
      };
    }
    return undefined;
  }

  dropExecSockets(drop: ExecDrop): void {
    this.execDrops.push({
      afterBytes: drop.afterBytes,
      direction: drop.direction ?? 'output',
      remaining: drop.count ?? 1,
    });
  }

  takeExecDrop(): { afterBytes: number; direction: 'output' | 'stdin' } | undefined {
    const drop = this.execDrops.find((candidate) => candidate.remaining > 0);
    if (!drop) return undefined;
    drop.remaining -= 1;
    return { afterBytes: drop.afterBytes, direction: drop.direction };
  }
}

export function reasonForStatus(status: number): string {
  const reasons: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    410: 'Expired',
    429: 'TooManyRequests',
    500: 'InternalError',
    503: 'ServiceUnavailable',
    504: 'Timeout',
  };
  return reasons[status] ?? 'InternalError';
}
