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
  TmpfsMount(std::filesystem::path dir, const std::string& size) : dir_(std::move(dir)) {
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
    const std::string opts = "size=" + size + ",mode=0700";
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
    const std::string opts = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      std::cerr << "remount " << dir_ << " " << opts << ": " << std::strerror(errno) << "\n";
      return false;
    }
    return true;
  }

  // Bytes left for files (f_bavail), for messages.
  uint64_t free_bytes() const {
    struct statvfs s {};
    if (::statvfs(dir_.c_str(), &s) != 0) return 0;
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
  }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string skip_reason_;
};

}  // namespace keel::testing
