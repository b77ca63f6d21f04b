// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO
import Testing

@Suite("IOMMUMode")
struct IOMMUModeTests {
  @Test func fiveModesInTheCOrder() {
    #expect(IOMMUMode.allCases.map(\.rawValue) == [
      "vfio_type1_iommu", "vfio_type1v2_iommu", "iommufd_compat_type1", "iommufd_compat_type1v2", "iommufd",
    ])
    #expect(IOMMUMode.allCases.map(\.description) == IOMMUMode.allCases.map(\.rawValue))
  }

  @Test func defaultIsIOMMUFD() {
    #expect(IOMMUMode.default == .iommufd)
  }

  @Test("container path, VFIO_SET_IOMMU type and container use", arguments: [
    (IOMMUMode.vfioType1, "/dev/vfio/vfio" as String?, UInt32(1), true),
    (.vfioType1v2, "/dev/vfio/vfio", 3, true),
    (.iommufdCompatType1, "/dev/iommu", 1, true),
    (.iommufdCompatType1v2, "/dev/iommu", 3, true),
    (.iommufd, nil, 0, false),
  ])
  func perMode(_ mode: IOMMUMode, _ container: String?, _ type: UInt32, _ usesContainer: Bool) throws {
    #expect(mode.containerPath == container)
    #expect(mode.iommuType == type)
    #expect(mode.usesContainer == usesContainer)
    #expect(try IOMMUMode(named: mode.rawValue) == mode)
    #expect(!mode.requirements.isEmpty)
  }

  @Test("unknown names", arguments: ["bogus", "", "IOMMUFD", "vfio_type1", " iommufd", "iommufd "])
  func unknownName(_ name: String) {
    #expect(throws: VFIOError.unknownIOMMUMode(name)) { try IOMMUMode(named: name) }
  }

  @Test func unknownModeMessageListsTheFive() {
    #expect(VFIOError.unknownIOMMUMode("bogus").description ==
      "unknown iommu mode 'bogus': expected one of vfio_type1_iommu, vfio_type1v2_iommu, iommufd_compat_type1, iommufd_compat_type1v2, iommufd")
  }

  @Test func modesUnderTestFromTheEnvironment() throws {
    #expect(try IOMMUMode.underTest(environment: [:]) == IOMMUMode.allCases)
    #expect(try IOMMUMode.underTest(environment: ["VFIO_SELFTESTS_IOMMU_MODES": "iommufd, vfio_type1_iommu"]) == [.vfioType1, .iommufd])
    #expect(try IOMMUMode.underTest(environment: ["VFIO_SELFTESTS_IOMMU_MODES": "iommufd_compat_type1 iommufd_compat_type1"]) == [.iommufdCompatType1])
    #expect(try IOMMUMode.underTest(environment: ["VFIO_SELFTESTS_IOMMU_MODE": "vfio_type1v2_iommu"]) == [.vfioType1v2])
    #expect(try IOMMUMode.underTest(environment: ["VFIO_SELFTESTS_IOMMU_MODES": "", "VFIO_SELFTESTS_IOMMU_MODE": "iommufd"]) == [.iommufd])
    let e = #expect(throws: VFIOError.self) { try IOMMUMode.underTest(environment: ["VFIO_SELFTESTS_IOMMU_MODES": "iommufd,type1"]) }
    #expect(e?.description == "VFIO_SELFTESTS_IOMMU_MODES='iommufd,type1': expected mode names separated by spaces or commas ('type1' is not one of vfio_type1_iommu, vfio_type1v2_iommu, iommufd_compat_type1, iommufd_compat_type1v2, iommufd)")
  }
}
