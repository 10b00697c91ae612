import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createWorkPool } from "../../src/engine/pool";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("work pool", () => {
  it("when items are added while others run, then all run with at most `limit` in flight", async () => {
    let active = 0;
    let peak = 0;
    const done: number[] = [];
    const pool = createWorkPool<number>(3, async (item) => {
      active += 1;
      peak = Math.max(peak, active);
      await tick();
      done.push(item);
      active -= 1;
    });
    pool.add([1, 2, 3, 4]);
    await tick();
    pool.add([5, 6, 7]);
    await pool.drain();
    assert.deepEqual([...done].sort(), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(peak, 3);
  });

  it("when an item fails, then no new item starts and drain throws that failure", async () => {
    const started: number[] = [];
    const pool = createWorkPool<number>(1, async (item) => {
      started.push(item);
      await tick();
      if (item === 2) throw new Error("boom");
    });
    pool.add([1, 2, 3, 4]);
    await assert.rejects(pool.drain(), /boom/);
    assert.deepEqual(started, [1, 2]);
    assert.equal(pool.failed, true);
  });

  it("when nothing was added, then drain returns at once", async () => {
    await createWorkPool<number>(2, async () => undefined).drain();
  });
});
