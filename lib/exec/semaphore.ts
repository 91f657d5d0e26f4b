// At most N of something at once (here: channels on one SSH connection); the rest wait in order.
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    // A finishing holder hands its slot straight to the next waiter, so `active` never overshoots.
    else await new Promise<void>((res) => this.waiting.push(res));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
