/**
 * Looks for credentials in what the app let out: SAS signatures that were not redacted, bearer tokens, Shared Key
 * signatures, account keys, and secret values the test knows verbatim (keys, tokens, function keys), also when
 * URL-encoded. A finding never repeats the secret: the excerpt masks it.
 */

/** One piece of captured output and where it came from ("log", "HTTP GET /api/disks", "table diskdeltaRuns/…"). */
export interface Captured {
  readonly source: string;
  readonly text: string;
}

/** A secret value the test knows, looked for verbatim and URL-encoded. */
export interface KnownSecret {
  readonly kind: string;
  readonly value: string;
}

/** A secret found in captured output. */
export interface SecretFinding {
  readonly source: string;
  readonly kind: string;
  /** The context of the finding with the secret itself masked. */
  readonly excerpt: string;
}

/** Secret shapes; REDACTED (what `redact` leaves) is not a secret. */
const shapes: { kind: string; pattern: RegExp }[] = [
  { kind: "SAS signature", pattern: /(?:[?&]|%3F|%26|\\u0026)sig(?:=|%3D)(?!REDACTED)[^&\s"'<>\\]+/gi },
  { kind: "bearer token", pattern: /\bBearer\s+(?!REDACTED)[A-Za-z0-9\-._~+/]{8,}=*/g },
  { kind: "Shared Key signature", pattern: /\bSharedKey(?:Lite)?\s+[^\s:"']+:(?!REDACTED)[A-Za-z0-9+/]{20,}=*/g },
  { kind: "account key", pattern: /AccountKey=(?!REDACTED)[^;\s"']+/gi },
];

function masked(text: string, index: number, length: number): string {
  const secret = text.slice(index, index + length);
  const before = text.slice(Math.max(0, index - 40), index);
  return `…${before}${secret.slice(0, 4)}<masked ${length} chars>…`;
}

export function scanForSecrets(corpus: readonly Captured[], known: readonly KnownSecret[]): SecretFinding[] {
  const findings: SecretFinding[] = [];
  const needles = known
    .filter((secret) => secret.value.length >= 8)
    .flatMap((secret) => [...new Set([secret.value, encodeURIComponent(secret.value)])].map((value) => ({ kind: secret.kind, value })));
  for (const { source, text } of corpus) {
    for (const { kind, pattern } of shapes) {
      for (const match of text.matchAll(pattern)) findings.push({ source, kind, excerpt: masked(text, match.index, match[0].length) });
    }
    for (const { kind, value } of needles) {
      const index = text.indexOf(value);
      if (index >= 0) findings.push({ source, kind, excerpt: masked(text, index, value.length) });
    }
  }
  return findings;
}

/** The `sig` value of a SAS URL, to be looked for verbatim wherever it might have been copied to. */
export function signatureOf(sasUrl: string): string {
  return new URL(sasUrl).searchParams.get("sig") ?? "";
}
