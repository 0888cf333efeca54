#[flowcoro::pooled(frame_size = 128)]
async fn sized() {}

fn main() {
    let _ = flowcoro::pool!(frame_size = 64; async {});
    drop(sized());
}
