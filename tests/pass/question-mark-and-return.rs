//! `?` (with `From` conversions) and early `return` leave the future, not
//! the enclosing function.

use std::num::ParseIntError;

use flowcoro::pooled;

#[derive(Debug, PartialEq)]
enum Error {
    Parse(ParseIntError),
    Zero,
}

impl From<ParseIntError> for Error {
    fn from(e: ParseIntError) -> Self {
        Error::Parse(e)
    }
}

#[pooled]
async fn parse(s: &str) -> Result<u32, ParseIntError> {
    s.trim().parse()
}

#[pooled]
async fn halve(s: &str) -> Result<u32, Error> {
    let n = parse(s).await?;
    if n == 0 {
        return Err(Error::Zero);
    }
    Ok(n / 2)
}

#[pooled]
async fn first_even(xs: &[u32]) -> Option<u32> {
    for &x in xs {
        if x % 2 == 0 {
            return Some(x);
        }
    }
    None
}

#[pooled]
async fn boxed(s: &str) -> Result<u32, Box<dyn std::error::Error>> {
    Ok(s.parse::<u32>()? + 1)
}

pub(crate) fn main() {
    use futures::executor::block_on;
    assert_eq!(block_on(halve(" 10 ")), Ok(5));
    assert_eq!(block_on(halve("0")), Err(Error::Zero));
    assert!(matches!(block_on(halve("x")), Err(Error::Parse(_))));
    assert_eq!(block_on(first_even(&[1, 3, 4, 6])), Some(4));
    assert_eq!(block_on(first_even(&[1])), None);
    assert_eq!(block_on(boxed("1")).unwrap(), 2);
    assert!(block_on(boxed("-")).is_err());
}
