// SPDX-License-Identifier: GPL-2.0-only
// The port of tools/testing/selftests/liveupdate/liveupdate.c (fixture liveupdate_device): the
// single-boot /dev/liveupdate uAPI tests. Needs only LUO (memfd is its one file handler in 7.3).
import Glibc
import LibLiveUpdate
import LibVFIO
import SystemPackage
import Testing

/// A memfd holding `data`, written with write(2) as liveupdate.c does.
func memfd(_ name: String, _ data: String) throws -> FileDescriptor {
  let fd = try Memfd.create(name)
  if !data.isEmpty { _ = try fd.writeAll(Array(data.utf8)) }
  return fd
}

/// Reads a memfd from offset 0 (liveupdate.c: lseek(0) then read).
func readBack(_ fd: FileDescriptor, count: Int = 4096) throws -> String {
  _ = try fd.seek(offset: 0, from: .start)
  var buf = [UInt8](repeating: 0, count: count)
  let n = try buf.withUnsafeMutableBytes { try fd.read(into: $0) }
  return String(decoding: buf[..<n], as: UTF8.self)
}

/// The errno of a failed result, nil on success.
func errnoOf<T>(_ r: Result<T, Errno>) -> Errno? {
  if case .failure(let e) = r { return e }
  return nil
}

func luoErrno(_ body: () throws -> Void) -> Errno? {
  do { try body() } catch let e as LiveUpdateError { return e.errno } catch { return nil }
  return nil
}

extension Hardware {
  @Suite("liveupdate", .liveUpdate, .hangGuard)
  struct LiveUpdateDeviceTest {
    @Test func basic_open_close() throws {
      let luo = try LiveUpdateDevice()
      #expect(luo.fd != nil)
      #expect(throws: Never.self) { try luo.fd?.close() }
    }

    @Test func exclusive_open() throws {
      try withLiveUpdate { _ in
        switch LiveUpdateDevice.openResult() {
        case .success: Issue.record("a second open of /dev/liveupdate succeeded")
        case .failure(let e): #expect(e == .resourceBusy)
        }
      }
    }

    @Test func create_duplicate_session() throws {
      try withLiveUpdate { luo in
        let first = try luo.createSession("duplicate-session-test")
        defer { first.close() }
        #expect(luoErrno { _ = try luo.createSession("duplicate-session-test") } == .fileExists)
      }
    }

    @Test func create_distinct_sessions() throws {
      try withLiveUpdate { luo in
        let s1 = try luo.createSession("distinct-session-1")
        let s2 = try luo.createSession("distinct-session-2")
        #expect(s1.fd != nil && s2.fd != nil)
        s1.close()
        s2.close()
      }
    }

    @Test func preserve_memfd() throws {
      try withLiveUpdate { luo in
        let session = try luo.createSession("preserve-memfd-test")
        let fd = try memfd("test-memfd", "hello liveupdate")
        defer { try? fd.close() }
        try session.preserve(fd, token: 0x1234)
        session.close()
        #expect(try readBack(fd) == "hello liveupdate")
      }
    }

    @Test func preserve_multiple_memfds() throws {
      try withLiveUpdate { luo in
        let session = try luo.createSession("preserve-multi-memfd-test")
        defer { session.close() }
        let one = try memfd("test-memfd-1", "data for memfd one")
        let two = try memfd("test-memfd-2", "data for memfd two")
        defer { try? one.close(); try? two.close() }
        try session.preserve(one, token: 0xAAAA)
        try session.preserve(two, token: 0xBBBB)
        #expect(try readBack(one) == "data for memfd one")
        #expect(try readBack(two) == "data for memfd two")
      }
    }

    @Test func preserve_complex_scenario() throws {
      try withLiveUpdate { luo in
        let s1 = try luo.createSession("complex-session-1")
        let s2 = try luo.createSession("complex-session-2")
        defer { s1.close(); s2.close() }
        let data1 = try memfd("data1", "complex data 1")
        let empty1 = try memfd("empty1", "")
        let data2 = try memfd("data2", "complex data 2")
        let empty2 = try memfd("empty2", "")
        defer { for f in [data1, empty1, data2, empty2] { try? f.close() } }
        try s1.preserve(data1, token: 0x1111)
        try s1.preserve(empty1, token: 0x2222)
        try s2.preserve(data2, token: 0x3333)
        try s2.preserve(empty2, token: 0x4444)
        #expect(try readBack(data1) == "complex data 1")
        #expect(try readBack(data2) == "complex data 2")
        #expect(try readBack(empty1) == "")
        #expect(try readBack(empty2) == "")
      }
    }

    @Test func preserve_unsupported_fd() throws {
      try withLiveUpdate { luo in
        let session = try luo.createSession("unsupported-fd-test")
        defer { session.close() }
        let devnull = try FileDescriptor.open("/dev/null", .readWrite)
        defer { try? devnull.close() }
        #expect(errnoOf(session.preserveResult(devnull, token: 0xDEAD)) == .noSuchFileOrDirectory)
      }
    }

    @Test func prevent_double_preservation() throws {
      try withLiveUpdate { luo in
        let s1 = try luo.createSession("double-preserve-session-1")
        let s2 = try luo.createSession("double-preserve-session-2")
        defer { s1.close(); s2.close() }
        let fd = try memfd("test-memfd", "")
        defer { try? fd.close() }
        #expect(errnoOf(s1.preserveResult(fd, token: 0x1111)) == nil)
        #expect(errnoOf(s2.preserveResult(fd, token: 0x2222)) == .resourceBusy)
        #expect(errnoOf(s1.preserveResult(fd, token: 0x3333)) == .resourceBusy)
      }
    }

    @Test func create_session_no_null_termination() throws {
      try withLiveUpdate { luo in
        let r = luo.createSessionResult(rawName: [UInt8](repeating: UInt8(ascii: "X"), count: LiveUpdateUAPI.sessionNameLength))
        if case .success(let fd) = r { try? fd.close() }
        #expect(errnoOf(r) == .invalidArgument)
      }
    }

    @Test func create_session_empty_name() throws {
      try withLiveUpdate { luo in
        #expect(luoErrno { _ = try luo.createSession("") } == .invalidArgument)
      }
    }

    @Test func get_session_name() throws {
      try withLiveUpdate { luo in
        let session = try luo.createSession("get-name-test-session")
        defer { session.close() }
        #expect(try session.kernelName() == "get-name-test-session")
      }
    }

    @Test func get_session_name_max_length() throws {
      try withLiveUpdate { luo in
        let name = String(repeating: "A", count: LiveUpdate.maxSessionNameLength)
        let session = try luo.createSession(name)
        defer { session.close() }
        #expect(try session.kernelName() == name)
      }
    }

    @Test(RequiresNoFileLimit(minimum: 2000)) func preserve_many_sessions() throws {
      try withLiveUpdate { luo in
        var sessions: [LiveUpdateSession] = []
        defer { for s in sessions { s.close() } }
        for i in 0..<2000 { sessions.append(try luo.createSession("many-session-\(i)")) }
        #expect(sessions.count == 2000)
      }
    }

    @Test(RequiresNoFileLimit(minimum: 510)) func preserve_many_files() throws {
      try withLiveUpdate { luo in
        let session = try luo.createSession("many-files-test")
        defer { session.close() }
        for i in 0..<500 {
          let fd = try Memfd.create()
          defer { try? fd.close() }
          #expect(errnoOf(session.preserveResult(fd, token: UInt64(i))) == nil, "memfd \(i)")
        }
      }
    }
  }
}
