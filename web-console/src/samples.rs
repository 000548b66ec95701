//! Sample datasets: 100,000 rows with sequential, uniform or clustered keys, loaded in batches so
//! the page shows progress (and the visualiser can be watched between batches).

/// A dataset the console can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub table: &'static str,
    pub label: &'static str,
    /// The key of row `g` (1-based), as SQL over `g`; distinct for distinct `g`.
    key: &'static str,
}

pub const SAMPLES: [Sample; 3] = [
    Sample {
        table: "sequential_keys",
        label: "sequential keys",
        key: "g",
    },
    Sample {
        table: "uniform_keys",
        label: "uniform random keys",
        // An odd multiplier is a bijection modulo 2^32: distinct keys spread over [0, 2^32).
        key: "(g * 2654435761) % 4294967296",
    },
    Sample {
        table: "clustered_keys",
        label: "clustered keys",
        // Ten dense clusters a hundred million apart.
        key: "(g % 10) * 100000000 + g / 10",
    },
];

pub const ROWS: u64 = 100_000;
pub const BATCH: u64 = 10_000;

impl Sample {
    /// The statements that (re)create the table.
    pub fn create(&self) -> String {
        format!(
            "DROP TABLE IF EXISTS {t}; CREATE TABLE {t} (id BIGINT PRIMARY KEY, label TEXT, amount NUMERIC(10,2))",
            t = self.table
        )
    }

    /// The statement that loads rows `from..=to`.
    pub fn batch(&self, from: u64, to: u64) -> String {
        format!(
            "INSERT INTO {t} SELECT {key}, 'row ' || g, (g % 1000) / 10.0 FROM generate_series({from}, {to}) g",
            t = self.table,
            key = self.key
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_keys_are_distinct_and_batches_cover_every_row() {
        // The key expressions, evaluated here as the engine would.
        let keys = [
            |g: i64| g,
            |g: i64| (g * 2_654_435_761) % 4_294_967_296,
            |g: i64| (g % 10) * 100_000_000 + g / 10,
        ];
        for key in keys {
            let distinct: std::collections::HashSet<i64> = (1..=ROWS as i64).map(key).collect();
            assert_eq!(distinct.len() as u64, ROWS);
        }
        assert_eq!(
            SAMPLES[0].batch(1, 10),
            "INSERT INTO sequential_keys SELECT g, 'row ' || g, (g % 1000) / 10.0 FROM generate_series(1, 10) g"
        );
    }
}
