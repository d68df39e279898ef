//! What an env's quota costs a month at its cluster's list prices.
//!
//! A list-price estimate, not a bill: an allocation tool such as OpenCost
//! charges each container the larger of its request and its usage, so the
//! quota's requests are a floor of what it would charge the namespace when
//! they are used in full; usage above requests, idle capacity, storage and
//! egress are left out (`CAVEATS`). Amounts are exact: nano-dollars in
//! integers, rounded to cents only when shown.

use std::fmt;

pub mod table;

use crate::model::{Env, QuotaKey, ResourceList};

/// A month, as cloud list prices count it: 365 days × 24 hours / 12.
pub const HOURS_PER_MONTH: u64 = 730;

/// Bytes in a GiB, the unit a memory price is per (as OpenCost's).
const GIB: u128 = 1 << 30;

/// Where the default prices come from, as the output and the docs name it.
pub const DEFAULT_PRICES: &str =
    "OpenCost's default prices (its configs/default.json, unchanged since April 2019)";

/// What the figures leave out, printed with every cost table.
pub const CAVEATS: [&str; 3] = [
    "a list-price estimate from quota requests: an allocation tool charges each container the larger of its request and its usage, so requests are a floor of what it would charge",
    "usage above requests, idle cluster capacity, storage, load balancers and egress are excluded",
    "the limits column is what the quota's limits would cost if they were requested in full",
];

/// An amount of money in nano-dollars (10⁻⁹ $): prices are written with
/// up to nine decimals, and a month of them stays exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub u64);

impl Money {
    pub const NANOS_PER_DOLLAR: u64 = 1_000_000_000;
    pub const ZERO: Money = Money(0);

    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0))
    }

    /// Whole cents, rounded half up: what every figure shows.
    pub fn cents(self) -> u64 {
        self.0 / 10_000_000 + u64::from(self.0 % 10_000_000 >= 5_000_000)
    }

    /// The amount rounded to the cent: what an env's figure is, so that
    /// every total is the sum of the figures shown.
    pub fn to_cent(self) -> Money {
        Money(self.cents().saturating_mul(10_000_000))
    }

    /// Dollars with cents and no sign: `1234.50`, for CSV and JSON.
    pub fn decimal(self) -> String {
        let cents = self.cents();
        format!("{}.{:02}", cents / 100, cents % 100)
    }

    /// A price as written: dollars with up to nine decimals, no trailing
    /// zeros (`0.031611`).
    pub fn price(self) -> String {
        let whole = self.0 / Self::NANOS_PER_DOLLAR;
        let fraction = self.0 % Self::NANOS_PER_DOLLAR;
        if fraction == 0 {
            return whole.to_string();
        }
        let digits = format!("{fraction:09}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// `$1,234.50`: dollars with cents and thousands separated.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = self.cents();
        let dollars = (cents / 100).to_string();
        let mut grouped = String::with_capacity(dollars.len() + dollars.len() / 3);
        for (index, digit) in dollars.chars().enumerate() {
            if index > 0 && (dollars.len() - index) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        write!(f, "${grouped}.{:02}", cents % 100)
    }
}

/// A change of money, for diffs: `+$310.25`, `-$12.00`, `$0.00`.
pub fn delta(old: Money, new: Money) -> String {
    match new.cmp(&old) {
        std::cmp::Ordering::Greater => format!("+{}", new.saturating_sub(old)),
        std::cmp::Ordering::Less => format!("-{}", old.saturating_sub(new)),
        std::cmp::Ordering::Equal => Money::ZERO.to_string(),
    }
}

/// A cluster's prices in words, as every output says them: `$0.031611 per
/// core-hour and $0.004237 per GiB-hour of memory, ORIGIN`.
pub fn describe_prices(cpu: &str, memory: &str, origin: &str) -> String {
    format!("${cpu} per core-hour and ${memory} per GiB-hour of memory, {origin}")
}

/// A cluster's list prices: per core-hour of cpu and per GiB-hour of
/// memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Price {
    pub cpu: Money,
    pub memory: Money,
    /// Whether the program wrote them (`price { … }`), or they are
    /// `DEFAULT_PRICES`.
    pub written: bool,
}

impl Price {
    /// OpenCost's defaults: $0.031611 per vCPU-hour, $0.004237 per
    /// GiB-hour of memory.
    pub const DEFAULT: Price = Price {
        cpu: Money(31_611_000),
        memory: Money(4_237_000),
        written: false,
    };

    /// What `millicores` of cpu cost a month.
    pub fn cpu_monthly(&self, millicores: u64) -> Money {
        monthly(millicores, self.cpu, 1000)
    }

    /// What `bytes` of memory cost a month.
    pub fn memory_monthly(&self, bytes: u64) -> Money {
        monthly(bytes, self.memory, GIB)
    }

    /// Where the prices come from, for the output.
    pub fn origin(&self) -> &'static str {
        if self.written {
            "set by the cluster's `price`"
        } else {
            DEFAULT_PRICES
        }
    }
}

impl Default for Price {
    fn default() -> Price {
        Price::DEFAULT
    }
}

/// `amount / per` units for 730 hours at `price` a unit-hour, rounded to
/// the nearest nano-dollar; saturating, since hostile quotas are only
/// bounded by `u64`.
fn monthly(amount: u64, price: Money, per: u128) -> Money {
    let total = u128::from(amount)
        .checked_mul(u128::from(price.0))
        .and_then(|product| product.checked_mul(u128::from(HOURS_PER_MONTH)))
        .map(|product| (product + per / 2) / per);
    Money(total.map_or(u64::MAX, |nanos| u64::try_from(nanos).unwrap_or(u64::MAX)))
}

/// What a quota costs a month: its requests, and its limits as if they
/// were requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    /// The cpu requests' part, exact.
    pub cpu: Money,
    /// The memory requests' part, exact.
    pub memory: Money,
    /// Both, rounded to the cent (summed, for several envs).
    pub requests: Money,
    /// The limits as if requested, rounded to the cent.
    pub limits: Money,
    /// Whether the quota sets both `requests.cpu` and `requests.memory`:
    /// otherwise the namespace may request without bound, and the figure
    /// is only what the keys set cost.
    pub requests_bounded: bool,
    /// The same of `limits.cpu` and `limits.memory`.
    pub limits_bounded: bool,
}

impl Default for Cost {
    /// Nothing, and bounded: the sum of no envs.
    fn default() -> Cost {
        Cost {
            cpu: Money::ZERO,
            memory: Money::ZERO,
            requests: Money::ZERO,
            limits: Money::ZERO,
            requests_bounded: true,
            limits_bounded: true,
        }
    }
}

impl Cost {
    pub fn plus(self, other: Cost) -> Cost {
        Cost {
            cpu: self.cpu.saturating_add(other.cpu),
            memory: self.memory.saturating_add(other.memory),
            requests: self.requests.saturating_add(other.requests),
            limits: self.limits.saturating_add(other.limits),
            requests_bounded: self.requests_bounded && other.requests_bounded,
            limits_bounded: self.limits_bounded && other.limits_bounded,
        }
    }

    /// The requests' cost as shown: `$12.50`, or `≥ $12.50` when a
    /// request is unbounded.
    pub fn show_requests(&self) -> String {
        shown(self.requests, self.requests_bounded)
    }

    /// The limits' cost as shown, like `show_requests`.
    pub fn show_limits(&self) -> String {
        shown(self.limits, self.limits_bounded)
    }
}

/// An amount as the tables show it: `$12.50`; `≥ $12.50` when some of
/// it is unbounded (a quota without `requests.memory`); `—` when nothing
/// bounds it, like the quantities of a namespace without a quota.
pub fn shown(amount: Money, bounded: bool) -> String {
    match (bounded, amount) {
        (true, _) => amount.to_string(),
        (false, Money::ZERO) => "—".to_string(),
        (false, _) => format!("≥ {amount}"),
    }
}

/// What a quota's `hard` costs a month at `price`. A key the quota does
/// not set costs nothing here: it is unbounded, which a tier's `budget`
/// does not allow (E0408).
pub fn of_quota(hard: &ResourceList, price: &Price) -> Cost {
    let get = |key| hard.get(&key).copied().unwrap_or(0);
    let sets = |keys: [QuotaKey; 2]| keys.iter().all(|key| hard.contains_key(key));
    let cpu = price.cpu_monthly(get(QuotaKey::RequestsCpu));
    let memory = price.memory_monthly(get(QuotaKey::RequestsMemory));
    Cost {
        requests_bounded: sets([QuotaKey::RequestsCpu, QuotaKey::RequestsMemory]),
        limits_bounded: sets([QuotaKey::LimitsCpu, QuotaKey::LimitsMemory]),
        cpu,
        memory,
        requests: cpu.saturating_add(memory).to_cent(),
        limits: price
            .cpu_monthly(get(QuotaKey::LimitsCpu))
            .saturating_add(price.memory_monthly(get(QuotaKey::LimitsMemory)))
            .to_cent(),
    }
}

/// What an env's quota costs a month on its cluster; nothing without a
/// quota.
pub fn of_env(env: &Env) -> Cost {
    match &env.quota {
        Some(quota) => of_quota(&quota.hard, &env.cluster.price),
        None => Cost {
            requests_bounded: false,
            limits_bounded: false,
            ..Cost::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_and_a_gib_for_a_month_at_the_default_prices() {
        let price = Price::DEFAULT;
        // 0.031611 × 730 = 23.07603; 0.004237 × 730 = 3.09301.
        assert_eq!(price.cpu_monthly(1000), Money(23_076_030_000));
        assert_eq!(price.memory_monthly(1 << 30), Money(3_093_010_000));
        assert_eq!(price.cpu_monthly(1000).to_string(), "$23.08");
        assert_eq!(price.memory_monthly(1 << 30).to_string(), "$3.09");
        // 500m is half a core; 512Mi half a GiB, exactly.
        assert_eq!(price.cpu_monthly(500), Money(11_538_015_000));
        assert_eq!(price.memory_monthly(1 << 29), Money(1_546_505_000));
    }

    #[test]
    fn amounts_show_cents_rounded_half_up_and_group_thousands() {
        assert_eq!(Money(1_234_565_000_000).to_string(), "$1,234.57");
        assert_eq!(Money(1_234_564_999_999).to_string(), "$1,234.56");
        assert_eq!(Money(999_994_999).to_string(), "$1.00");
        assert_eq!(Money(0).to_string(), "$0.00");
        assert_eq!(
            Money(123_456_789_000_000_000).to_string(),
            "$123,456,789.00"
        );
        assert_eq!(Money(1_234_565_000_000).decimal(), "1234.57");
        assert_eq!(delta(Money(0), Money(310_250_000_000)), "+$310.25");
        assert_eq!(delta(Money(12_000_000_000), Money(0)), "-$12.00");
        assert_eq!(Money(31_611_000).price(), "0.031611");
        assert_eq!(Money(150_000_000_000).price(), "150");
    }

    #[test]
    fn hostile_quantities_saturate() {
        let price = Price {
            cpu: Money(u64::MAX),
            memory: Money(u64::MAX),
            written: true,
        };
        assert_eq!(price.cpu_monthly(u64::MAX), Money(u64::MAX));
        assert_eq!(price.memory_monthly(u64::MAX), Money(u64::MAX));
        assert_eq!(Money(u64::MAX).saturating_add(Money(1)), Money(u64::MAX));
    }
}
