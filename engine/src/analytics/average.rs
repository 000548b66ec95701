//! AVG as PostgreSQL computes it, for DataFusion: `pg_avg` (DataFusion's own `avg` is not
//! registered: its digits are not PostgreSQL's).
//!
//! PostgreSQL's AVG of integers and NUMERIC is a NUMERIC whose scale depends on the value (at
//! least 16 significant digits, see [`numeric_divide`]), which no one Arrow decimal type can
//! carry. So this AVG sums exactly (an `i128` at the argument's scale, merged across
//! partitions) and divides with OmenDB's NUMERIC division, giving PostgreSQL's digits as text;
//! the result converts back to NUMERIC losslessly. Text does not compare or sort as a number, so
//! the router only sends such an AVG to DataFusion when it is a result column and nothing else
//! (`exact_averages` in the parent module; the parser spells only those `pg_avg`). AVG of REAL and DOUBLE PRECISION is a double, as in
//! PostgreSQL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Field, FieldRef, Float64Type, Int64Type,
};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

use crate::types::{Decimal, numeric_divide};

/// `pg_avg`, the AVG of a query's result columns.
pub fn udaf() -> AggregateUDF {
    AggregateUDF::from(PgAvg {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgAvg {
    signature: Signature,
}

/// The scale of the exact sum of values of type `input`.
fn sum_scale(input: &DataType) -> Result<i8> {
    match input {
        DataType::Int64 => Ok(0),
        DataType::Decimal128(_, scale) if *scale >= 0 => Ok(*scale),
        other => plan_err!("avg of {other}"),
    }
}

impl AggregateUDFImpl for PgAvg {
    fn name(&self) -> &str {
        "pg_avg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [input] = arg_types else {
            return plan_err!("avg takes one argument");
        };
        Ok(vec![match input {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => DataType::Int64,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
            DataType::Decimal128(..) => input.clone(),
            other => return plan_err!("avg of {other}"),
        }])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Float64] => Ok(DataType::Float64),
            [input] => sum_scale(input).map(|_| DataType::Utf8),
            _ => plan_err!("avg takes one argument"),
        }
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        let sum = match args.input_fields.first().map(|f| f.data_type()) {
            Some(DataType::Float64) => DataType::Float64,
            Some(input) => DataType::Decimal128(38, sum_scale(input)?),
            None => return plan_err!("avg takes one argument"),
        };
        Ok(vec![
            Arc::new(Field::new(format!("{}[sum]", args.name), sum, true)),
            Arc::new(Field::new(
                format!("{}[count]", args.name),
                DataType::Int64,
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return plan_err!("avg(DISTINCT …)");
        }
        match args.expr_fields.first().map(|f| f.data_type()) {
            Some(DataType::Float64) => Ok(Box::new(FloatAverage::default())),
            Some(input) => Ok(Box::new(ExactAverage {
                sum: 0,
                scale: sum_scale(input)?,
                count: 0,
            })),
            None => plan_err!("avg takes one argument"),
        }
    }
}

/// AVG of integers or NUMERIC: an exact sum and a count.
#[derive(Debug)]
struct ExactAverage {
    sum: i128,
    scale: i8,
    count: i64,
}

impl ExactAverage {
    fn add(&mut self, sum: i128, count: i64) -> Result<()> {
        match self.sum.checked_add(sum) {
            Some(total) => self.sum = total,
            None => return exec_err!("avg: the sum overflows"),
        }
        self.count += count;
        Ok(())
    }
}

impl Accumulator for ExactAverage {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return Ok(());
        };
        match array.data_type() {
            DataType::Int64 => {
                for v in array.as_primitive::<Int64Type>().iter().flatten() {
                    self.add(i128::from(v), 1)?;
                }
            }
            DataType::Decimal128(..) => {
                for v in array.as_primitive::<Decimal128Type>().iter().flatten() {
                    self.add(v, 1)?;
                }
            }
            other => return exec_err!("avg of {other}"),
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [sums, counts] = states else {
            return exec_err!("avg: a malformed state");
        };
        let (sums, counts) = (
            sums.as_primitive::<Decimal128Type>(),
            counts.as_primitive::<Int64Type>(),
        );
        for i in 0..sums.len() {
            if sums.is_valid(i) && counts.is_valid(i) {
                self.add(sums.value(i), counts.value(i))?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Decimal128(Some(self.sum), 38, self.scale),
            ScalarValue::Int64(Some(self.count)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.count == 0 {
            return Ok(ScalarValue::Utf8(None));
        }
        let scale = u32::try_from(self.scale).unwrap_or(0);
        let Ok(sum) = Decimal::try_from_i128_with_scale(self.sum, scale) else {
            return exec_err!("avg: the sum overflows numeric");
        };
        match numeric_divide(sum, Decimal::from(self.count)) {
            Ok(average) => Ok(ScalarValue::Utf8(Some(average.to_string()))),
            Err(e) => exec_err!("avg: {e}"),
        }
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}

/// AVG of REAL or DOUBLE PRECISION: a double sum and a count.
#[derive(Debug, Default)]
struct FloatAverage {
    sum: f64,
    count: i64,
}

impl Accumulator for FloatAverage {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if let Some(array) = values.first() {
            for v in array.as_primitive::<Float64Type>().iter().flatten() {
                self.sum += v;
                self.count += 1;
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [sums, counts] = states else {
            return exec_err!("avg: a malformed state");
        };
        let (sums, counts) = (
            sums.as_primitive::<Float64Type>(),
            counts.as_primitive::<Int64Type>(),
        );
        for i in 0..sums.len() {
            if sums.is_valid(i) && counts.is_valid(i) {
                self.sum += sums.value(i);
                self.count += counts.value(i);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Float64(Some(self.sum)),
            ScalarValue::Int64(Some(self.count)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(
            (self.count > 0).then(|| self.sum / self.count as f64),
        ))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}
