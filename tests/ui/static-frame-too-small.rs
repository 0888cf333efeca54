// A future larger than the static frames of `capacity`: an error when the
// fn's code is generated, not a frame overrun.
#[flowcoro::pooled(capacity = 2, frame_size = 64)]
async fn large() -> u8 {
    let buf = [1u8; 256];
    std::future::ready(()).await;
    buf[255]
}

fn main() {
    drop(large());
}
