// The scope vocabulary: `module:action`, lowercase, no wildcards. The order is
// the service's (src/token/scope.rs), which is also the order a set prints in.

/** Every scope the service knows, and whether it belongs to admin tokens. */
const ALL: ReadonlyArray<readonly [string, boolean]> = [
  ['contacts:read', false],
  ['contacts:write', false],
  ['contacts:delete', false],
  ['surveys:read', false],
  ['surveys:write', false],
  ['surveys:delete', false],
  ['coupons:read', false],
  ['coupons:write', false],
  ['coupons:delete', false],
  ['coupons:validate', false],
  ['referrals:read', false],
  ['referrals:write', false],
  ['referrals:delete', false],
  ['testimonials:read', false],
  ['testimonials:write', false],
  ['testimonials:delete', false],
  ['tickets:read', false],
  ['tickets:write', false],
  ['tickets:delete', false],
  ['apps:read', true],
  ['apps:write', true],
  ['apps:delete', true],
  ['audit:read', true],
  ['webhooks:read', true],
  ['webhooks:write', true],
  ['webhooks:delete', true],
];

const INDEX = new Map<string, number>(ALL.map(([name], i) => [name, i]));

/** Every known scope name, in the service's order. */
export const SCOPES: readonly string[] = ALL.map(([name]) => name);

export function isKnownScope(name: string): boolean {
  return INDEX.has(name);
}

export function isAdminScope(name: string): boolean {
  const i = INDEX.get(name);
  return i !== undefined && ALL[i]![1];
}

/**
 * The scopes a `scope` claim grants: space-separated names matched exactly;
 * names this version does not know grant nothing and are skipped (RFC 6749
 * §3.3), as the service does. Returned once each, in the service's order.
 */
export function scopesFromClaim(claim: string): string[] {
  let bits = 0;
  for (const name of claim.split(' ')) {
    const i = INDEX.get(name);
    if (i !== undefined) bits |= 1 << i;
  }
  const out: string[] = [];
  for (let i = 0; i < ALL.length; i++) if (bits & (1 << i)) out.push(ALL[i]![0]);
  return out;
}
