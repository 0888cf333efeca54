use flowcoro::pooled;

#[pooled(name)]
async fn no_value() {}

#[pooled(name = )]
async fn empty_value() {}

#[pooled(name = label)]
async fn not_a_string() {}

#[pooled(name = "")]
async fn empty_name() {}

#[pooled(name = "a" "b")]
async fn two_strings() {}

#[pooled(max_idle = "4")]
async fn quoted_count() {}

#[pooled(max_idle = -1)]
async fn negative_count() {}

#[pooled(max_idle = 4u8)]
async fn suffixed_count() {}

#[pooled(max_idle = 99999999999999999999999)]
async fn huge_count() {}

#[pooled("x")]
async fn no_key() {}

#[pooled(name = "a"; max_idle = 2)]
async fn bad_separator() {}

fn main() {
    // Every function is still emitted.
    let _ = (no_value(), empty_value(), not_a_string(), empty_name(), two_strings());
    let _ = (quoted_count(), negative_count(), suffixed_count(), huge_count());
    let _ = (no_key(), bad_separator());
}
