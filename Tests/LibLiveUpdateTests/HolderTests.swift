// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import Glibc
@testable import LibLiveUpdate
import LibVFIO
import SystemPackage
import Testing

@Suite("holder fd hand-over", .serialized)
struct HolderTests {
  /// A pipe whose write end stands in for a session fd.
  func pipe() throws -> (read: FileDescriptor, write: FileDescriptor) {
    let p = try FileDescriptor.pipe()
    return (p.readEnd, p.writeEnd)
  }

  func tempDir() throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("holder-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
  }

  func reap(_ pid: Int32) {
    kill(pid, SIGKILL)
    var status: Int32 = 0
    _ = waitpid(pid, &status, 0)
  }

  @Test func holderKeepsExactlyTheGivenFdsAndNothingElse() throws {
    let (readEnd, writeEnd) = try pipe()
    defer { try? readEnd.close() }
    let extra = try FileDescriptor.open("/dev/null", .readOnly)
    defer { try? extra.close() }
    let session = LiveUpdateSession(fd: writeEnd, name: "test", incoming: false)
    let holder = LiveUpdateHolder(directory: try tempDir())
    let pid = try holder.hold([session], alsoKeeping: [extra], name: "fd-handover")
    defer { reap(pid) }

    #expect(session.fd == nil, "the session's fd still belongs to this process")
    #expect(holder.runningHolder("fd-handover") == pid)
    // Give the child a moment to close what it must not keep.
    var fds: [String] = []
    for _ in 0..<200 {
      fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.sorted() ?? []
      if fds == [String(writeEnd.rawValue), String(extra.rawValue)].sorted() { break }
      usleep(10_000)
    }
    #expect(fds == [String(writeEnd.rawValue), String(extra.rawValue)].sorted(), "holder fds: \(fds)")

    // The write end is still open in the holder: a read finds no data, not EOF.
    _ = fcntl(readEnd.rawValue, F_SETFL, O_NONBLOCK)
    var byte: UInt8 = 0
    #expect(throws: Errno.resourceTemporarilyUnavailable) {
      _ = try withUnsafeMutableBytes(of: &byte) { try readEnd.read(into: $0) }
    }

    // Once the holder is gone, the last write end is closed: EOF.
    reap(pid)
    let n = try withUnsafeMutableBytes(of: &byte) { try readEnd.read(into: $0) }
    #expect(n == 0)
    #expect(holder.runningHolder("fd-handover") == nil)
  }

  @Test func aSecondStage1RunWhileAHolderLivesFailsClearly() throws {
    let (readEnd, writeEnd) = try pipe()
    defer { try? readEnd.close() }
    let holder = LiveUpdateHolder(directory: try tempDir())
    let pid = try holder.hold([LiveUpdateSession(fd: writeEnd, name: "a", incoming: false)], name: "state")
    defer { reap(pid) }
    let (r2, w2) = try pipe()
    defer { try? r2.close(); try? w2.close() }
    #expect(throws: LiveUpdateError.holderRunning(name: "state", pid: pid)) {
      try holder.hold([LiveUpdateSession(fd: w2, name: "b", incoming: false)], name: "state")
    }
    #expect(LiveUpdateError.holderRunning(name: "state", pid: pid).description.contains("pid \(pid)"))
  }
}

@Suite("memfd helpers")
struct MemfdTests {
  @Test func memfdHoldsItsString() throws {
    let fd = try Memfd.create(holding: "hello kexec world")
    defer { try? fd.close() }
    #expect(try Memfd.contents(of: fd) == "hello kexec world")
  }

  /// As C's `snprintf(map, page_size, "%s", data)`: a string of a page or more keeps its first
  /// page - 1 bytes and a NUL; an empty one is a lone NUL.
  @Test func memfdStringIsCutToAPageWithItsNUL() throws {
    let page = MappedMemory.pageSize
    let long = String(repeating: "x", count: page + 10)
    let fd = try Memfd.create(holding: long)
    defer { try? fd.close() }
    #expect(try Memfd.contents(of: fd) == String(repeating: "x", count: page - 1))
    let empty = try Memfd.create(holding: "")
    defer { try? empty.close() }
    #expect(try Memfd.contents(of: empty) == "")
  }

  /// `restore`'s check is C's `strcmp(expected, map) == 0`, in the mapping: the text's bytes
  /// and then the NUL, no more and no less.
  @Test func holdsCStringIsStrcmpInPlace() throws {
    let fd = try Memfd.create(holding: "file-data-7")
    defer { Memfd.close(fd) }
    let map = try MappedMemory.sharedResult(fd, offset: 0, size: MappedMemory.pageSize, protection: .read).get()
    defer { map.unmap() }
    #expect(map.holdsCString("file-data-7"))
    #expect(!map.holdsCString("file-data-"))
    #expect(!map.holdsCString("file-data-77"))
    #expect(!map.holdsCString("file-data-8"))
    #expect(!map.holdsCString(""))
    #expect(map.holdsCString("data-7", at: 5))
    #expect(!map.holdsCString(String(repeating: "a", count: map.size)))
    #expect(!map.holdsCString("x", at: map.size - 1))
  }

  /// `restore`'s one-mmap check: nil when the memfd holds the text and its NUL, else what it
  /// holds (up to its first NUL); the errno of a failed mmap.
  @Test func sharedCStringMismatchIsStrcmpWithNoObject() throws {
    let fd = try Memfd.create(holding: "file-data-7")
    defer { Memfd.close(fd) }
    let page = MappedMemory.pageSize
    #expect(try MappedMemory.sharedCStringMismatchResult(fd, size: page, expecting: "file-data-7").get() == nil)
    #expect(try MappedMemory.sharedCStringMismatchResult(fd, size: page, expecting: "file-data-").get() == "file-data-7")
    #expect(try MappedMemory.sharedCStringMismatchResult(fd, size: page, expecting: "file-data-77").get() == "file-data-7")
    #expect(try MappedMemory.sharedCStringMismatchResult(fd, size: page, expecting: String(repeating: "a", count: page)).get() == "file-data-7")
    let closed = try Memfd.create(holding: "x")
    Memfd.close(closed)
    #expect(MappedMemory.sharedCStringMismatchResult(closed, size: page, expecting: "x") == .failure(.badFileDescriptor))
  }

  @Test func fileLimitCanBeRaisedWithinTheHardLimit() {
    #expect(throws: Never.self) { try ensureNoFileLimitResult(100).get() }
  }
}
