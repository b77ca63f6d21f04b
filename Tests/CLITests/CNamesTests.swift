// SPDX-License-Identifier: GPL-2.0-only
import Testing
@testable import VFIOSelftestsCLI
import LibVFIO

@Suite("C harness names for the port's tests")
struct CNamesTests {
  @Test(arguments: [
    // Same structure: the suite is C's fixture.variant.
    ("vfio_pci_driver_test.vfio_type1_iommu", "memcpy_storm", "vfio_pci_driver_test", "vfio_pci_driver_test.vfio_type1_iommu.memcpy_storm"),
    ("vfio_dma_mapping_mmio_test.iommufd", "map_full_bar", "vfio_dma_mapping_mmio_test", "vfio_dma_mapping_mmio_test.iommufd.map_full_bar"),
    ("vfio_pci_sriov_uapi_test.iommufd_null_uuid", "pf_early_close", "vfio_pci_sriov_uapi_test", "vfio_pci_sriov_uapi_test.iommufd_null_uuid.pf_early_close"),
    // The backing is part of C's variant; the limit tests are C's second fixture.
    ("vfio_dma_mapping_test.vfio_type1_iommu", "anonymous_dma_map_unmap", "vfio_dma_mapping_test", "vfio_dma_mapping_test.vfio_type1_iommu_anonymous.dma_map_unmap"),
    ("vfio_dma_mapping_test.iommufd", "anonymous_hugetlb_1gb_dma_map_unmap", "vfio_dma_mapping_test", "vfio_dma_mapping_test.iommufd_anonymous_hugetlb_1gb.dma_map_unmap"),
    ("vfio_dma_mapping_test.iommufd_compat_type1v2", "limit_unmap_range", "vfio_dma_mapping_test", "vfio_dma_map_limit_test.iommufd_compat_type1v2.unmap_range"),
    // C has no mode variants here (default mode iommufd); the IRQ tests are vfio_pci_irq_test.
    ("vfio_pci_device_test.iommufd", "reset", "vfio_pci_device_test", "vfio_pci_device_test.reset"),
    ("vfio_pci_device_test.iommufd", "msix_enable_trigger_disable", "vfio_pci_device_test", "vfio_pci_irq_test.msix.enable_trigger_disable"),
    ("vfio_pci_device_test.vfio_type1_iommu", "validate_bars", "vfio_pci_device_test", "vfio_pci_device_test.vfio_type1_iommu.validate_bars"),
    ("vfio_pci_device_test.vfio_type1_iommu", "msi_enable_trigger_disable", "vfio_pci_device_test", "vfio_pci_irq_test.vfio_type1_iommu_msi.enable_trigger_disable"),
    ("vfio_iommufd_setup_test", "bind", "vfio_iommufd_setup_test", "vfio_cdev.bind"),
    ("liveupdate", "preserve_memfd", "liveupdate", "liveupdate_device.preserve_memfd"),
    ("luo_kexec", "luo_multi_session", "luo_multi_session", "luo_multi_session"),
    ("vfio_pci_device_init_perf_test", "iommufd_compat_type1_init", "vfio_pci_device_init_perf_test", "vfio_pci_device_init_perf_test.iommufd_compat_type1.init"),
    // The port's own suites.
    ("vfio_pci_reset_mmap_test.iommufd", "reset_with_faulted_bars", "vfio_pci_reset_mmap_test", "vfio_pci_reset_mmap_test.iommufd.reset_with_faulted_bars"),
    ("kernel_log", "catches_a_report", "kernel_log", "kernel_log.catches_a_report"),
  ])
  func names(_ suite: String, _ test: String, _ program: String, _ name: String) {
    #expect(CName.of(suite: suite, test: test) == CName(program: program, name: name))
  }

  @Test func aSuiteThatFailedOnItsOwnIsATest() throws {
    let id = "M.Hardware/Dev"
    let lines = [
      Sample.test("M.Hardware", suite: true), Sample.test(id, suite: true, display: "vfio_pci_device_test.iommufd"), Sample.test(Sample.a),
      Sample.event("runStarted", nil), Sample.event("testStarted", id),
      Sample.event("issueRecorded", id, extra: ",\"issue\":{\"isKnown\":false},\"messages\":[{\"symbol\":\"fail\",\"text\":\"setup threw\"}]"),
      Sample.event("testSkipped", Sample.a, extra: ",\"_comments\":[\"x\"]"), Sample.event("testEnded", id), Sample.event("runEnded", nil),
    ]
    let run = TestRunResults(records: try EventRecord.parse(stream: lines.joined(separator: "\n") + "\n"))
    let tests = run.programs.flatMap(\.tests)
    #expect(tests.map(\.name.name) == ["vfio_pci_device_test.iommufd", "vfio_pci_device_test.a"])
    #expect(tests[0].node.outcome == .failed(["setup threw"]))
  }
}

@Suite("The environment, one parser")
struct SelftestsEnvironmentTests {
  @Test func unsetAndEmptyAreDefaults() throws {
    let env = SelftestsEnvironment(values: ["VFIO_SELFTESTS_STRICT": "", "VFIO_SELFTESTS_TIMEOUT_SCALE": ""])
    #expect(env.validate().isEmpty)
    #expect(try env.timeoutScale() == 1)
    #expect(try env.strict() == .only([]))
    #expect(try env.liveUpdateMemfdSize() == (1 << 30) + (1 << 20))
    #expect(try env.migrationStressSeconds(.iommufd) == 3)
    #expect(try env.resetMmapSeconds(.vfioType1) == 3)
    #expect(try env.stage() == nil)
  }

  @Test func valuesParse() throws {
    let env = SelftestsEnvironment(values: [
      "VFIO_SELFTESTS_BDFS": "0000:00:03.0,00:04.0 0000:00:06.0", "VFIO_SELFTESTS_STRICT": "iommufd, sriov",
      "VFIO_SELFTESTS_MIGRATION_STRESS_SECONDS": "iommufd=60,vfio_type1_iommu=5", "VFIO_SELFTESTS_TIMEOUT_SCALE": "2.5",
      "VFIO_SELFTESTS_RESET_MMAP_SECONDS": "30",
    ])
    #expect(env.validate().isEmpty)
    #expect(try env.addresses(.bdfs)?.map(\.description) == ["0000:00:03.0", "0000:00:04.0", "0000:00:06.0"])
    #expect(try env.strict() == .only([.iommufd, .sriov]))
    #expect(try env.migrationStressSeconds(.iommufd) == 60)
    #expect(try env.migrationStressSeconds(.vfioType1) == 5)
    #expect(try env.migrationStressSeconds(.vfioType1v2) == 3)
    #expect(try env.resetMmapSeconds(.vfioType1) == 30)
    #expect(try env.resetMmapSeconds(.iommufd) == 30)
    #expect(try env.timeoutScale() == 2.5)
  }

  @Test func everyBadValueIsReportedInVariableOrder() {
    let env = SelftestsEnvironment(values: ["VFIO_SELFTESTS_STAGE": "0", "VFIO_SELFTESTS_BDF": "x", "VFIO_SELFTESTS_TIMEOUT_SCALE": "inf"])
    #expect(env.validate().map(\.variable) == [.bdf, .stage, .timeoutScale])
  }
}
