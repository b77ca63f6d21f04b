// SPDX-License-Identifier: GPL-2.0-only
extension SelftestsEnvironment {
  /// Every `VFIO_SELFTESTS_*` name the suites, the command line, vfio-bench and the scripts read:
  /// its type, its meaning, and who sets it. README.md's table is `markdownTable(.user)`
  /// (Tests/CLITests/EnvironmentTableTests.swift fails when they differ); `vfio-selftests run`
  /// refuses any other `VFIO_SELFTESTS_*` name.
  public enum Variable: String, CaseIterable, Sendable {
    case bdf = "VFIO_SELFTESTS_BDF"
    case bdfs = "VFIO_SELFTESTS_BDFS"
    case sriovBDF = "VFIO_SELFTESTS_SRIOV_BDF"
    case migrationBDFS = "VFIO_SELFTESTS_MIGRATION_BDFS"
    case stage = "VFIO_SELFTESTS_STAGE"
    case strict = "VFIO_SELFTESTS_STRICT"
    case iommuMode = "VFIO_SELFTESTS_IOMMU_MODE"
    case timeoutScale = "VFIO_SELFTESTS_TIMEOUT_SCALE"
    case liveUpdateMemfdSize = "VFIO_SELFTESTS_LIVEUPDATE_MEMFD_SIZE"
    case migrationStressSeconds = "VFIO_SELFTESTS_MIGRATION_STRESS_SECONDS"
    case resetMmapSeconds = "VFIO_SELFTESTS_RESET_MMAP_SECONDS"
    case stopAt = "VFIO_SELFTESTS_STOP_AT"
    case luoSessionPrefix = "VFIO_SELFTESTS_LUO_SESSION_PREFIX"
    case uapiHeaders = "VFIO_SELFTESTS_UAPI_HEADERS"
    case kernelSource = "VFIO_SELFTESTS_KERNEL_SOURCE"
    case binDir = "VFIO_SELFTESTS_BIN_DIR"
    case releaseBin = "VFIO_SELFTESTS_RELEASE_BIN"
    case testTargets = "VFIO_SELFTESTS_TEST_TARGETS"
    case skip = "VFIO_SELFTESTS_SKIP"
    case stage2Filter = "VFIO_SELFTESTS_STAGE2_FILTER"
    case cliAcceptance = "VFIO_SELFTESTS_CLI_ACCEPTANCE"
    case compareC = "VFIO_SELFTESTS_COMPARE_C"
    case compareCDir = "VFIO_SELFTESTS_COMPARE_C_DIR"
    case benchBin = "VFIO_SELFTESTS_BENCH_BIN"
    case iommuModes = "VFIO_SELFTESTS_IOMMU_MODES"
    case stages = "VFIO_SELFTESTS_STAGES"
    case results = "VFIO_SELFTESTS_RESULTS"
    case repo = "VFIO_SELFTESTS_REPO"
    case filter = "VFIO_SELFTESTS_FILTER"
    case extraBDFs = "VFIO_SELFTESTS_EXTRA_BDFS"
    case kernel = "VFIO_SELFTESTS_KERNEL"
    case runKTAP = "VFIO_SELFTESTS_RUN_KTAP"
    case runJUnit = "VFIO_SELFTESTS_RUN_JUNIT"
    case top = "VFIO_SELFTESTS_TOP"

    /// Who sets a variable: a person (README's table), or a script or the command line for
    /// the process it starts (docs/command-line.md's table).
    public enum Audience: Sendable { case user, `internal` }

    public var type: ValueType {
      switch self {
      case .bdf, .sriovBDF: .bdf
      case .bdfs, .migrationBDFS, .extraBDFs: .bdfList
      case .stage: .stage
      case .stages: .stageCount
      case .strict: .strictCapabilities
      case .iommuMode: .iommuMode
      case .iommuModes: .iommuModeList
      case .timeoutScale: .scale
      case .liveUpdateMemfdSize: .bytes
      case .migrationStressSeconds, .resetMmapSeconds: .secondsPerMode
      case .stopAt: .checkpoint
      case .luoSessionPrefix: .sessionPrefix
      case .uapiHeaders, .kernelSource, .binDir, .releaseBin, .compareCDir, .benchBin, .results, .repo, .runKTAP, .runJUnit, .top: .path
      case .skip, .stage2Filter, .filter: .regex
      case .cliAcceptance: .flagOrBDF
      case .compareC: .nameList
      case .kernel, .testTargets: .text
      }
    }

    public var audience: Audience {
      switch self {
      case .bdf, .bdfs, .sriovBDF, .migrationBDFS, .stage, .strict, .iommuMode, .timeoutScale, .liveUpdateMemfdSize,
           .migrationStressSeconds, .resetMmapSeconds, .luoSessionPrefix, .uapiHeaders, .kernelSource, .binDir, .releaseBin, .testTargets, .skip,
           .stage2Filter, .cliAcceptance, .compareC, .compareCDir, .benchBin:
        .user
      case .stopAt, .iommuModes, .stages, .results, .repo, .filter, .extraBDFs, .kernel, .runKTAP, .runJUnit, .top:
        .internal
      }
    }

    /// One line, for the tables and `vfio-selftests env`.
    public var meaning: String {
      switch self {
      case .bdf: "the device under test, as for the C tests"
      case .bdfs: "several devices: the driver test's, init_perf's, reset-mmap's"
      case .sriovBDF: "an SR-IOV PF bound to vfio-pci (`vfio_pci_sriov_uapi_test`)"
      case .migrationBDFS: "xe-vfio-pci VFs (`vfio_migration_test.pci`)"
      case .stage: "the stage of the kexec suites; they skip without it"
      case .iommuMode: "run only that mode's cases of the tests over the iommu modes"
      case .strict:
        "a listed capability the kernel lacks fails instead of skipping: `\(StrictCapability.allCases.map(\.rawValue).joined(separator: ","))`"
      case .timeoutScale: "C's harness time limits multiplied by it, for emulators (CI: 4)"
      case .liveUpdateMemfdSize: "shrinks the kexec test's 1 GiB + 1 MiB DMA buffer for small guests"
      case .migrationStressSeconds: "the migration stress's length (default 3)"
      case .resetMmapSeconds: "the reset/DMA-map race's length in `vfio_pci_reset_mmap_test` (default 3)"
      case .luoSessionPrefix: "put before the luo_* tests' session names, so C's can cross the same kexec"
      case .uapiHeaders: "the uAPI headers the conformance test checks against"
      case .kernelSource: "the C drivers the driver conformance test checks against"
      case .binDir: "`scripts/vm-test.sh`: the binaries the guest runs (default `.build/debug`)"
      case .releaseBin: "`scripts/package.sh`: release binaries to package instead of building"
      case .testTargets: "`hardware`: `Package.swift` builds a test binary of the hardware suites alone (what `scripts/package.sh` ships)"
      case .skip: "guest (`vm-test.sh --env`): suites left out of the boot"
      case .stage2Filter: "guest: suites run after the kexec besides the kexec suites"
      case .cliAcceptance: "guest: the command line's acceptance checks, on the device under test or this one"
      case .compareC: "guest: these C selftest programs run beside the port in stage 1"
      case .compareCDir: "guest: the built C selftests (default `.build-vm/c-selftests/bin`)"
      case .benchBin: "guest: the benchmark's guest half in stage 1 (and its `luo_retrieve_memfd` first in stage 2), with these binaries"
      case .stopAt: "`setup`/`cleanup` stop themselves (SIGSTOP) at this checkpoint (fault-injection tests)"
      case .iommuModes: "the modes of a parameterized test (`vfio-selftests kselftest`)"
      case .stages: "the guest run's stages (`vm-test.sh --stages`)"
      case .results: "the guest stage's results directory"
      case .repo: "the repository, in the guest"
      case .filter: "the guest's `vm-test.sh --filter`"
      case .extraBDFs: "the guest's other devices (`vm-test.sh --extra-device`)"
      case .kernel: "the guest kernel's label, for the results"
      case .runKTAP: "the stage's `run` KTAP, which `cli-acceptance.sh` checks"
      case .runJUnit: "the stage's `run` JUnit, which `cli-acceptance.sh` checks"
      case .top: "the unpacked kselftest package's directory (its wrapper script)"
      }
    }
  }
}
