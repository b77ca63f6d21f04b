// SPDX-License-Identifier: GPL-2.0-only
import Glibc
import LibLiveUpdate
import LibVFIO
import SystemPackage
import Testing

/// Skips unless `/dev/liveupdate` exists and the caller is root. With `VFIO_SELFTESTS_STRICT`
/// naming `liveupdate` (or `1`), a kernel without it fails instead.
struct RequiresLiveUpdate: TestTrait, SuiteTrait {
  var isRecursive: Bool { true }
  func prepare(for test: Test) async throws {
    guard !test.isSuite else { return }
    guard geteuid() == 0 else { try Test.cancel("not root") }
    if let reason = LiveUpdateCapabilities.deviceUnavailability() {
      if HardwareEnvironment.isStrict(.liveUpdate) { throw RequirementFailure(description: "VFIO_SELFTESTS_STRICT: \(reason)") }
      try Test.cancel(Comment(rawValue: reason))
    }
  }
}

/// Skips unless the kernel can preserve VFIO device files (a positive probe of the VFIO Live
/// Update series, never a failed preserve). Strict with `vfio-liveupdate` (or `1`).
struct RequiresVFIOLiveUpdate: TestTrait, SuiteTrait {
  var isRecursive: Bool { true }
  func prepare(for test: Test) async throws {
    guard !test.isSuite else { return }
    if let reason = LiveUpdateCapabilities.vfioUnavailability() {
      if HardwareEnvironment.isStrict(.vfioLiveUpdate) { throw RequirementFailure(description: "VFIO_SELFTESTS_STRICT: \(reason)") }
      try Test.cancel(Comment(rawValue: reason))
    }
  }
}

/// `.vfioLiveUpdate` inside one case of a parameterized test: cancels the case with the reason,
/// or fails it (`RequirementFailure`) under `VFIO_SELFTESTS_STRICT`.
func requireVFIOLiveUpdate() throws {
  if let reason = LiveUpdateCapabilities.vfioUnavailability() {
    if HardwareEnvironment.isStrict(.vfioLiveUpdate) { throw RequirementFailure(description: "VFIO_SELFTESTS_STRICT: \(reason)") }
    try Test.cancel(Comment(rawValue: reason))
  }
}

/// Skips as the C test does when RLIMIT_NOFILE cannot be raised.
struct RequiresNoFileLimit: TestTrait {
  let minimum: Int
  func prepare(for test: Test) async throws {
    if case .failure(.notPermitted) = ensureNoFileLimitResult(minimum) {
      try Test.cancel("Insufficient privileges to set RLIMIT_NOFILE")
    }
  }
}

/// The stage of a two-stage (kexec) run, from `VFIO_SELFTESTS_STAGE`. Kexec tests run only in
/// staged runs: a plain `swift test` must not leave holders behind.
enum KexecStage {
  static func current() throws -> LiveUpdateStage? {
    try SelftestsEnvironment.current.stage().flatMap(LiveUpdateStage.init(rawValue:))
  }
}

struct RequiresStage: TestTrait, SuiteTrait {
  var isRecursive: Bool { true }
  func prepare(for test: Test) async throws {
    guard !test.isSuite else { return }
    do {
      guard try KexecStage.current() != nil else {
        try Test.cancel("VFIO_SELFTESTS_STAGE not set (a two-stage kexec test: scripts/vm-test.sh --stages 2)")
      }
    } catch VFIOError.environment(let invalid) {
      throw RequirementFailure(description: invalid.description)
    }
  }
}

/// Skips unless this is a two-stage guest run (`vm-test.sh --stages 2`; `StagedRun`).
struct RequiresStagedRun: TestTrait {
  func prepare(for test: Test) async throws {
    guard try StagedRun.stage() != nil, try StagedRun.results() != nil else {
      try Test.cancel("VFIO_SELFTESTS_STAGE not set (not a staged guest run)")
    }
    guard try StagedRun.stages() == 2 else { try Test.cancel("single-stage run (vm-test.sh --stages 2 runs both stages)") }
  }
}

extension Trait where Self == RequiresLiveUpdate {
  static var liveUpdate: Self { RequiresLiveUpdate() }
}

extension Trait where Self == RequiresVFIOLiveUpdate {
  static var vfioLiveUpdate: Self { RequiresVFIOLiveUpdate() }
}

extension Trait where Self == RequiresStage {
  static var staged: Self { RequiresStage() }
}

/// Opens /dev/liveupdate for one test and closes it after, whatever the test does.
func withLiveUpdate<R>(_ body: (LiveUpdateDevice) throws -> R) throws -> R {
  let luo = try LiveUpdateDevice()
  defer { luo.close() }
  return try body(luo)
}
