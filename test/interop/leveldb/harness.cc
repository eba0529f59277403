// Test harness around LevelDB 1.23's own log::Writer, log::Reader and DB, linked from Debian's
// static libleveldb.a. log::Writer/Reader are internal classes with no public header, so their
// interface is declared here from the facts that are public (db/log_writer.h, db/log_reader.h);
// their data members are replaced by opaque storage larger than the real ones, which is all the
// compiler needs to allocate them (we only call their out-of-line members).
//
// Commands (binary records on stdin are u32-LE length + bytes):
//   write <file> new|append         records from stdin -> log::Writer (append resumes at size)
//   readmany                        lines "<file> <checksum 0|1> <initial_offset>" on stdin; per file:
//                                   "F", then "R <offset> <len> <fnv64>" / "C <bytes> <status>", then "E"
//   dbput <dir>                     lines of ops on stdin, one WriteBatch per line:
//                                   "p:<keyhex>:<valuehex>" / "d:<keyhex>" separated by spaces
//   dbdump <dir> <paranoid 0|1>     DB::Open, then "K <keyhex> <valuehex>" per key, "S <status>"
//   bench-write <file> <size> <n> [sync]  n records of `size` bytes (fdatasync after each when
//                                   sync is 1, as DB::Write with WriteOptions.sync), prints elapsed ns
//   bench-read <file>               reads every record, prints "<records> <bytes> <elapsed ns>"
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/slice.h>
#include <leveldb/status.h>
#include <leveldb/write_batch.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace leveldb {
namespace log {

class Writer {
 public:
  explicit Writer(WritableFile* dest);
  Writer(WritableFile* dest, uint64_t dest_length);
  ~Writer();
  Status AddRecord(const Slice& slice);

 private:
  alignas(16) char opaque_[256];  // real size: 32 bytes
};

class Reader {
 public:
  class Reporter {
   public:
    virtual ~Reporter();
    virtual void Corruption(size_t bytes, const Status& status) = 0;
  };
  Reader(SequentialFile* file, Reporter* reporter, bool checksum, uint64_t initial_offset);
  ~Reader();
  bool ReadRecord(Slice* record, std::string* scratch);
  uint64_t LastRecordOffset();

 private:
  alignas(16) char opaque_[512];  // real size: under 100 bytes
};

}  // namespace log
}  // namespace leveldb

namespace {

using leveldb::Env;
using leveldb::Slice;
using leveldb::Status;

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(2);
  }
}

uint64_t Fnv64(const char* p, size_t n) {
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

bool ReadExact(std::FILE* in, char* buf, size_t n) { return std::fread(buf, 1, n, in) == n; }

std::vector<std::string> ReadRecordsFromStdin() {
  std::vector<std::string> records;
  unsigned char len[4];
  while (ReadExact(stdin, reinterpret_cast<char*>(len), 4)) {
    uint32_t n = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<uint32_t>(len[3]) << 24);
    std::string r(n, '\0');
    if (n > 0 && !ReadExact(stdin, &r[0], n)) {
      std::fprintf(stderr, "short record on stdin\n");
      std::exit(2);
    }
    records.push_back(std::move(r));
  }
  return records;
}

int CmdWrite(const std::string& path, const std::string& mode) {
  Env* env = Env::Default();
  leveldb::WritableFile* file = nullptr;
  uint64_t size = 0;
  if (mode == "append") {
    Check(env->GetFileSize(path, &size), "GetFileSize");
    Check(env->NewAppendableFile(path, &file), "NewAppendableFile");
  } else {
    Check(env->NewWritableFile(path, &file), "NewWritableFile");
  }
  {
    leveldb::log::Writer writer(file, size);
    for (const std::string& r : ReadRecordsFromStdin()) Check(writer.AddRecord(r), "AddRecord");
  }
  Check(file->Close(), "Close");
  delete file;
  return 0;
}

class PrintingReporter : public leveldb::log::Reader::Reporter {
 public:
  void Corruption(size_t bytes, const Status& status) override {
    std::printf("C %zu %s\n", bytes, status.ToString().c_str());
  }
};

int CmdReadMany() {
  Env* env = Env::Default();
  char path[4096];
  int checksum = 0;
  unsigned long long initial = 0;
  while (std::scanf("%4095s %d %llu", path, &checksum, &initial) == 3) {
    leveldb::SequentialFile* file = nullptr;
    Check(env->NewSequentialFile(path, &file), "NewSequentialFile");
    PrintingReporter reporter;
    std::printf("F\n");
    {
      leveldb::log::Reader reader(file, &reporter, checksum != 0, initial);
      Slice record;
      std::string scratch;
      while (reader.ReadRecord(&record, &scratch)) {
        std::printf("R %llu %zu %016llx\n", static_cast<unsigned long long>(reader.LastRecordOffset()),
                    record.size(), static_cast<unsigned long long>(Fnv64(record.data(), record.size())));
      }
    }
    std::printf("E\n");
    std::fflush(stdout);
    delete file;
  }
  return 0;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string Unhex(const std::string& s) {
  std::string out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(static_cast<char>(HexValue(s[i]) * 16 + HexValue(s[i + 1])));
  return out;
}

std::string Hex(const Slice& s) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = s[i];
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

int CmdDbPut(const std::string& dir) {
  leveldb::Options options;
  options.create_if_missing = true;
  leveldb::DB* db = nullptr;
  Check(leveldb::DB::Open(options, dir, &db), "DB::Open");
  std::string line;
  while (std::getline(std::cin, line)) {
    leveldb::WriteBatch batch;
    size_t pos = 0;
    while (pos < line.size()) {
      size_t end = line.find(' ', pos);
      if (end == std::string::npos) end = line.size();
      std::string op = line.substr(pos, end - pos);
      pos = end + 1;
      if (op.empty()) continue;
      size_t c1 = op.find(':');
      size_t c2 = op.find(':', c1 + 1);
      if (op[0] == 'p') {
        batch.Put(Unhex(op.substr(c1 + 1, c2 - c1 - 1)), Unhex(op.substr(c2 + 1)));
      } else {
        batch.Delete(Unhex(op.substr(c1 + 1)));
      }
    }
    Check(db->Write(leveldb::WriteOptions(), &batch), "Write");
  }
  delete db;
  return 0;
}

int CmdDbDump(const std::string& dir, bool paranoid) {
  leveldb::Options options;
  options.paranoid_checks = paranoid;
  leveldb::DB* db = nullptr;
  Status s = leveldb::DB::Open(options, dir, &db);
  if (s.ok()) {
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::printf("K %s %s\n", Hex(it->key()).c_str(), Hex(it->value()).c_str());
    }
    s = it->status();
  }
  std::printf("S %s\n", s.ToString().c_str());
  delete db;
  return 0;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int CmdBenchWrite(const std::string& path, size_t size, size_t n, bool sync) {
  Env* env = Env::Default();
  leveldb::WritableFile* file = nullptr;
  Check(env->NewWritableFile(path, &file), "NewWritableFile");
  std::string record(size, 'x');
  for (size_t i = 0; i < size; i++) record[i] = static_cast<char>(i * 131 + 7);
  int64_t start = NowNs();
  {
    leveldb::log::Writer writer(file);
    for (size_t i = 0; i < n; i++) {
      Check(writer.AddRecord(record), "AddRecord");
      if (sync) Check(file->Sync(), "Sync");
    }
  }
  Check(file->Close(), "Close");
  int64_t elapsed = NowNs() - start;
  delete file;
  std::printf("%lld\n", static_cast<long long>(elapsed));
  return 0;
}

int CmdBenchRead(const std::string& path) {
  Env* env = Env::Default();
  leveldb::SequentialFile* file = nullptr;
  Check(env->NewSequentialFile(path, &file), "NewSequentialFile");
  int64_t start = NowNs();
  size_t records = 0, bytes = 0;
  {
    leveldb::log::Reader reader(file, nullptr, true, 0);
    Slice record;
    std::string scratch;
    while (reader.ReadRecord(&record, &scratch)) {
      records++;
      bytes += record.size();
    }
  }
  int64_t elapsed = NowNs() - start;
  delete file;
  std::printf("%zu %zu %lld\n", records, bytes, static_cast<long long>(elapsed));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "write") return CmdWrite(args[1], args[2]);
  if (args.size() == 1 && args[0] == "readmany") return CmdReadMany();
  if (args.size() == 2 && args[0] == "dbput") return CmdDbPut(args[1]);
  if (args.size() == 3 && args[0] == "dbdump") return CmdDbDump(args[1], args[2] == "1");
  if ((args.size() == 4 || args.size() == 5) && args[0] == "bench-write") {
    return CmdBenchWrite(args[1], std::stoul(args[2]), std::stoul(args[3]), args.size() == 5 && args[4] == "1");
  }
  if (args.size() == 2 && args[0] == "bench-read") return CmdBenchRead(args[1]);
  std::fprintf(stderr, "usage: see the comment at the top of harness.cc\n");
  return 64;
}
