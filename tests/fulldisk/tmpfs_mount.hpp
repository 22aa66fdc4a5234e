// A size-limited tmpfs mounted by a test, unmounted on every way out (RAII):
// the "small filesystem that fills" of the full-disk tests. Root only: a test
// without the right to mount skips (skip_reason()).
//
//   TmpfsMount fs(dir.path() / "fs", "3m");
//   if (!fs.mounted()) GTEST_SKIP() << fs.skip_reason();
//   ... fill it ...
//   fs.resize("64m");   // frees space without unmounting (open files stay valid)
//
// The destructor unmounts; when files are still open there (a child process
// that outlived its test), it detaches the mount (MNT_DETACH) so that none is
// ever left behind in the mount table, and removes the mount point.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

namespace keel::testing {

class TmpfsMount {
 public:
  // mode: of the filesystem's root ("0755" when another user, e.g.
  // PostgreSQL's, must reach files under it).
  TmpfsMount(std::filesystem::path dir, const std::string& size, std::string mode = "0700")
      : dir_(std::move(dir)), mode_(std::move(mode)) {
    if (::geteuid() != 0) {
      skip_reason_ = "the full-disk tests mount a tmpfs: run them as root";
      return;
    }
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) {
      skip_reason_ = "cannot create the mount point " + dir_.string() + ": " + ec.message();
      return;
    }
    const std::string opts = "size=" + size + ",mode=" + mode_;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      skip_reason_ = "mount -t tmpfs -o " + opts + " tmpfs " + dir_.string() + " failed: " + std::strerror(errno) +
                     " (a container without CAP_SYS_ADMIN?)";
      return;
    }
    mounted_ = true;
  }

  ~TmpfsMount() {
    if (mounted_ && ::umount2(dir_.c_str(), 0) != 0) {
      std::cerr << "umount " << dir_ << ": " << std::strerror(errno) << "; detaching it (MNT_DETACH)\n";
      ::umount2(dir_.c_str(), MNT_DETACH);
    }
    std::error_code ec;
    std::filesystem::remove(dir_, ec);  // the empty mount point
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::filesystem::path& path() const { return dir_; }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  // `mount -o remount,size=SIZE DIR`: more (or less) room, files untouched.
  // Returns false (with errno's text on stderr) when the kernel refuses.
  bool resize(const std::string& size) {
    const std::string opts = "size=" + size + ",mode=" + mode_;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      std::cerr << "remount " << dir_ << " " << opts << ": " << std::strerror(errno) << "\n";
      return false;
    }
    return true;
  }

  // Writes `name` until the filesystem refuses (ENOSPC): no byte is left.
  // Returns the bytes written.
  uint64_t fill(const std::string& name) {
    const int fd = ::open(file(name).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return 0;
    static const std::string chunk(1 << 20, 'f');
    uint64_t written = 0;
    for (size_t size = chunk.size(); size >= 512;) {
      const ssize_t n = ::write(fd, chunk.data(), size);
      if (n > 0) {
        written += static_cast<uint64_t>(n);
      } else {
        size /= 2;  // the last pages: smaller writes until even 512 bytes do not fit
      }
    }
    ::close(fd);
    return written;
  }

  // Bytes left for files (f_bavail), for messages.
  uint64_t free_bytes() const {
    struct statvfs s {};
    if (::statvfs(dir_.c_str(), &s) != 0) return 0;
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
  }

 private:
  std::filesystem::path dir_;
  std::string mode_;
  bool mounted_ = false;
  std::string skip_reason_;
};

}  // namespace keel::testing
