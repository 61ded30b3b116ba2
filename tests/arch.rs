//! Architecture proof: the matrix sets `VPROC_EXPECT_ARCH` per leg, so each leg's
//! summary shows that its tests really ran on the architecture it claims.

#[test]
fn runs_on_the_expected_architecture_and_endianness() {
    let arch = std::env::consts::ARCH;
    let big = u32::from_ne_bytes([0, 0, 0, 1]) == 1;
    assert_eq!(
        big,
        cfg!(target_endian = "big"),
        "runtime and compile-time endianness agree"
    );
    // s390x is the only big-endian architecture vproc supports.
    assert_eq!(big, arch == "s390x", "{arch}: unexpected endianness");
    if let Ok(expected) = std::env::var("VPROC_EXPECT_ARCH") {
        assert_eq!(arch, expected, "this leg should run on {expected}");
    }
    println!(
        "architecture {arch}, {} endian",
        if big { "big" } else { "little" }
    );
}
