// Plan ids as Concourse's PlanFactory makes them (atc/plan_factory.go): lowercase hex of a counter that is
// bumped before each node is made. Concourse seeds it with the Unix time when the component starts and
// shares it between plans, so ids of successive builds never repeat; ids only need to be unique within a plan.
import type { PlanId } from '@jetbridge/plan';

export class PlanIdFactory {
  private current: number;

  /** `start` is the last id handed out: the first id is `start + 1` in hex. */
  constructor(start: number = Math.floor(Date.now() / 1000)) {
    this.current = start;
  }

  next(): PlanId {
    this.current += 1;
    return this.current.toString(16);
  }
}
