// swift-tools-version:6.2
// SPDX-License-Identifier: GPL-2.0-only
//
// vfio-selftests: a Swift port of the Linux kernel's VFIO and Live Update selftests
// (tools/testing/selftests/{vfio,liveupdate}).
import PackageDescription

let strict: [SwiftSetting] = [.strictMemorySafety()]

// The unit tests: parsers, error paths and the CLI's logic, on fixtures (no device, no guest).
let unitTests: [Target] = [
  .testTarget(
    name: "LibVFIOTests",
    dependencies: ["LibVFIO", .product(name: "SystemPackage", package: "swift-system")]
  ),
  .testTarget(
    name: "UAPIConformanceTests",
    dependencies: ["LibVFIO", "LibLiveUpdate", "CVFIOShim"]
  ),
  .testTarget(
    name: "LibLiveUpdateTests",
    dependencies: ["LibLiveUpdate", "LibVFIO", .product(name: "SystemPackage", package: "swift-system")]
  ),
  .testTarget(
    name: "CLITests",
    dependencies: ["VFIOSelftestsCLI", "LibVFIO"],
    // Event streams recorded from real runs (EventStreamCaseTests reads them by path).
    exclude: ["Fixtures"]
  ),
]

// VFIO_SELFTESTS_TEST_TARGETS=hardware: a test binary of the hardware suites alone (the C
// selftests' ports), which is what scripts/package.sh ships to run the kselftest programs
// (none of them runs a unit test) and what scripts/bench.sh's run_one_test starts. Swift Testing
// builds every test a binary holds before it filters, so a binary without the ~250 unit tests
// starts faster (docs/benchmark.md). Every other build has every target.
let hardwareOnly = Context.environment["VFIO_SELFTESTS_TEST_TARGETS"] == "hardware"

let package = Package(
  name: "vfio-selftests",
  products: [
    .library(name: "LibVFIO", targets: ["LibVFIO"]),
    .library(name: "LibLiveUpdate", targets: ["LibLiveUpdate"]),
    .executable(name: "vfio-selftests", targets: ["vfio-selftests"]),
    .executable(name: "vfio-bench", targets: ["vfio-bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
  ],
  targets: (hardwareOnly ? [] : unitTests) + [
    // libkmod, for loading vfio-pci, vfio_iommu_type1, iommufd, xe-vfio-pci, mtty: its header
    // (Debian's libkmod-dev) at build time; the library itself is opened on first use, not linked
    // (Sources/CKmod/include/kmod_shim.h says why).
    .target(name: "CKmod"),
    // The one C shim: the kernel uAPI structs (vfio, iommufd, liveupdate) defined by this
    // project, and the GNU-only calls Swift cannot reach through Glibc.
    .target(name: "CVFIOShim"),
    .target(
      name: "LibVFIO",
      dependencies: [
        "CVFIOShim", "CKmod",
        .product(name: "SystemPackage", package: "swift-system"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "LibLiveUpdate",
      dependencies: [
        "CVFIOShim", "LibVFIO",
        .product(name: "SystemPackage", package: "swift-system"),
      ],
      swiftSettings: strict
    ),
    // The CLI's testable logic: event stream parsing, KTAP, run requests, doctor.
    .target(
      name: "VFIOSelftestsCLI",
      dependencies: ["LibVFIO", "LibLiveUpdate", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .executableTarget(
      name: "vfio-selftests",
      dependencies: [
        "LibVFIO", "LibLiveUpdate", "VFIOSelftestsCLI",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // The Swift side of the C-vs-Swift benchmark (scripts/bench.sh; its C twin is scripts/bench/bench.c).
    .executableTarget(
      name: "vfio-bench",
      dependencies: ["LibVFIO", "LibLiveUpdate", "CVFIOShim", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .testTarget(
      name: "VFIOHardwareTests",
      dependencies: ["LibVFIO", "LibLiveUpdate", "CVFIOShim", .product(name: "SystemPackage", package: "swift-system")]
    ),
  ]
)
