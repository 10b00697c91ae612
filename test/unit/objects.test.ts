/** withoutAbsent: what a JSON body, an update or a table entity keeps of an object. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withoutAbsent } from "../../src/domain/objects";

describe("withoutAbsent", () => {
  const cases: { name: string; input: Record<string, unknown>; expected: Record<string, unknown> }[] = [
    { name: "when a field is undefined, then it is dropped", input: { a: 1, b: undefined }, expected: { a: 1 } },
    { name: "when a field is null, then it is dropped", input: { a: "x", b: null }, expected: { a: "x" } },
    { name: "when a field is false, zero or empty, then it is kept", input: { a: false, b: 0, c: "" }, expected: { a: false, b: 0, c: "" } },
    { name: "when a nested object has an undefined field, then it is kept as it is (one level only)", input: { a: { b: undefined } }, expected: { a: { b: undefined } } },
    { name: "when every field is absent, then the object is empty", input: { a: undefined, b: null }, expected: {} },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(withoutAbsent(c.input), c.expected));
  }

  it("when an object is passed, then it is not changed", () => {
    const input = { a: 1, b: undefined };
    withoutAbsent(input);
    assert.ok("b" in input);
  });
});
