//! The Lua scripts that make reservation and settlement each one atomic server-side step.
//!
//! # Integers
//!
//! Money travels as decimal strings of pico-USD and every counter moves by `HINCRBY` with a
//! string argument, so Redis adds exact 64-bit integers. Lua numbers are doubles, exact only
//! below 2^53 pico-USD (about $9,007), which a monthly budget can exceed; so the one place a
//! script compares amounts (the cap check of [`RESERVE`]) splits each decimal string into two
//! base-10^9 limbs, each far below 2^53, and compares those. No amount ever passes through a
//! Lua number whole, except the sign of a reservation counter after a release.

use std::sync::LazyLock;

use redis::Script;

/// Exact comparison and addition of non-negative decimal strings, as two base-10^9 limbs.
const LIMBS: &str = r"
local function limbs(s)
  if s == nil or s == false or string.sub(s, 1, 1) == '-' then return {0, 0} end
  local n = #s
  if n <= 9 then return {0, tonumber(s)} end
  return {tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))}
end
local function add(x, y)
  local hi, lo = x[1] + y[1], x[2] + y[2]
  if lo >= 1000000000 then hi, lo = hi + 1, lo - 1000000000 end
  return {hi, lo}
end
local function cmp(x, y)
  if x[1] ~= y[1] then return x[1] < y[1] and -1 or 1 end
  if x[2] ~= y[2] then return x[2] < y[2] and -1 or 1 end
  return 0
end
";

/// Releases `amount` of `caller`'s reservation, never leaving a negative counter behind.
const RELEASE_FN: &str = r"
local function release(key, caller, amount)
  if amount == '0' then return end
  local left = redis.call('HINCRBY', key, caller, '-' .. amount)
  if left <= 0 then redis.call('HDEL', key, caller) end
end
";

/// Reserves an amount unless spend plus reservations is at or over the cap, or the amount
/// would take it over. It also leaves a hold marker naming the reservation, so
/// that a reservation whose reply was lost can be cancelled exactly once ([`CANCEL`]).
///
/// KEYS: caller cost hash, reservations hash, hold marker.
/// ARGV: caller, amount, cap (`""` for none), expiry of the reservations hash in seconds,
/// expiry of the hold marker in seconds.
/// Returns `{admitted (1 or 0), settled spend as a decimal string}`.
pub(crate) static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{LIMBS}{}",
        r"
local caller, amount, cap = ARGV[1], ARGV[2], ARGV[3]
local spent = redis.call('HGET', KEYS[1], caller) or '0'
if cap ~= '' then
  local held = add(limbs(spent), limbs(redis.call('HGET', KEYS[2], caller)))
  local limit = limbs(cap)
  if cmp(held, limit) >= 0 or cmp(add(held, limbs(amount)), limit) > 0 then
    return {0, spent}
  end
end
if amount ~= '0' then
  redis.call('HINCRBY', KEYS[2], caller, amount)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  redis.call('SET', KEYS[3], amount, 'EX', ARGV[5])
end
return {1, spent}
"
    ))
});

/// Releases a reservation.
///
/// KEYS: reservations hash. ARGV: caller, amount.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{RELEASE_FN}{}",
        r"
release(KEYS[1], ARGV[1], ARGV[2])
return 1
"
    ))
});

/// Cancels a reservation whose reply was lost, if it landed and was not cancelled before.
///
/// KEYS: hold marker, reservations hash. ARGV: caller.
pub(crate) static CANCEL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{RELEASE_FN}{}",
        r"
local amount = redis.call('GET', KEYS[1])
if not amount then return 0 end
redis.call('DEL', KEYS[1])
release(KEYS[2], ARGV[1], amount)
return 1
"
    ))
});

/// Records one ledger entry and releases its reservation, once per request id.
///
/// KEYS: 1 settled marker, 2 reservations, 3 totals, 4 provider, 5 model, 6 group,
/// 7 caller cost, 8 caller requests, 9 caller prompt, 10 caller completion, 11 caller cached,
/// 12 hour bucket, 13 waste cost, 14 waste requests, 15 caller estimated cost.
/// ARGV: 1 caller, 2 reservation to release, 3 replay (`1`: a retry of a settlement that may
/// have landed, so an existing marker means its release happened too), 4 provider, 5 model,
/// 6 group (`""` for none), 7 cost, 8 prompt tokens, 9 completion tokens, 10 cached tokens,
/// 11 priced (`1`/`0`), 12 month keys' expiry, 13 hour bucket's expiry, 14 marker's expiry
/// (all in seconds), 15 estimated (`1`/`0`: infermux counted the usage), 16 waste field
/// (`reason:provider`, `""` when the spend was not wasted).
/// Returns `{counted, settled spend of the caller as a decimal string}`: counted is 1 when the
/// entry was counted, 0 when its request id was already settled.
pub(crate) static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{RELEASE_FN}{}",
        r"
local caller, cost = ARGV[1], ARGV[7]
local fresh = redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[14])
if fresh or ARGV[3] == '0' then release(KEYS[2], caller, ARGV[2]) end
if not fresh then return {0, redis.call('HGET', KEYS[7], caller) or '0'} end
redis.call('HINCRBY', KEYS[3], 'cost', cost)
redis.call('HINCRBY', KEYS[3], 'requests', 1)
redis.call('HINCRBY', KEYS[3], 'unpriced', ARGV[11] == '1' and 0 or 1)
redis.call('HINCRBY', KEYS[4], ARGV[4], cost)
redis.call('HINCRBY', KEYS[5], ARGV[5], cost)
if ARGV[6] ~= '' then redis.call('HINCRBY', KEYS[6], ARGV[6], cost) end
redis.call('HINCRBY', KEYS[7], caller, cost)
redis.call('HINCRBY', KEYS[8], caller, 1)
redis.call('HINCRBY', KEYS[9], caller, ARGV[8])
redis.call('HINCRBY', KEYS[10], caller, ARGV[9])
redis.call('HINCRBY', KEYS[11], caller, ARGV[10])
redis.call('HINCRBY', KEYS[12], 'cost', cost)
redis.call('HINCRBY', KEYS[12], 'requests', 1)
if ARGV[15] == '1' then
  redis.call('HINCRBY', KEYS[3], 'estimated_cost', cost)
  redis.call('HINCRBY', KEYS[3], 'estimated_requests', 1)
  redis.call('HINCRBY', KEYS[15], caller, cost)
  redis.call('EXPIRE', KEYS[15], ARGV[12])
end
if ARGV[16] ~= '' then
  redis.call('HINCRBY', KEYS[13], ARGV[16], cost)
  redis.call('HINCRBY', KEYS[14], ARGV[16], 1)
  redis.call('EXPIRE', KEYS[13], ARGV[12])
  redis.call('EXPIRE', KEYS[14], ARGV[12])
end
for i = 3, 11 do redis.call('EXPIRE', KEYS[i], ARGV[12]) end
redis.call('EXPIRE', KEYS[12], ARGV[13])
return {1, redis.call('HGET', KEYS[7], caller)}
"
    ))
});
