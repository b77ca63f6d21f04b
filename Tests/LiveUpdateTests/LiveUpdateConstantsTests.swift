import LibLiveUpdate
import Testing

@Test func sessionNamesAreAtMost63Bytes() {
  #expect(LiveUpdate.maxSessionNameLength == 63)
  #expect(LiveUpdate.devicePath == "/dev/liveupdate")
}
