//! Helpers shared by linerate's benchmarks: a buffer laid out like an
//! AF_XDP UMEM, so that frame preparation is measured against the same
//! memory layout and cache behaviour as the sender, without I/O.

/// A UMEM-like region: `frame_count` frames of `frame_size` bytes each,
/// page aligned as an mmap'd UMEM is.
#[derive(Debug)]
pub struct UmemLikeBuffer {
    frames: Vec<AlignedFrame>,
}

#[repr(C, align(4096))]
#[derive(Debug, Clone)]
struct AlignedFrame([u8; 4096]);

impl UmemLikeBuffer {
    /// Frame size in bytes (one page, as the sender's UMEM uses).
    pub const FRAME_SIZE: usize = 4096;

    /// `frame_count` zeroed frames.
    pub fn new(frame_count: usize) -> Self {
        UmemLikeBuffer {
            frames: vec![AlignedFrame([0; 4096]); frame_count],
        }
    }

    /// Number of frames.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Writable bytes of frame `index`.
    pub fn frame_mut(&mut self, index: usize) -> &mut [u8] {
        &mut self.frames[index].0
    }
}
