// ForwardingStore: a Store that hands every call to another one. The node tests' fake stores
// derive from it and override only the calls they change (HoldingStore holds commits,
// FlakyDeleteStore fails deletions), so that a change to the Store interface is made here once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace parley::test {

class ForwardingStore : public parley::store::Store {
 public:
  explicit ForwardingStore(parley::store::Store& real) : real_(real) {}

  std::vector<parley::store::StoredRoom> load_rooms() override { return real_.load_rooms(); }
  void create_room_now(const parley::store::StoredRoom& room) override { real_.create_room_now(room); }
  void create_room(parley::store::StoredRoom room, Done done) override {
    real_.create_room(std::move(room), std::move(done));
  }
  void delete_room(std::string room, Done done) override { real_.delete_room(std::move(room), std::move(done)); }
  bool has_capacity() const override { return real_.has_capacity(); }
  void append(std::vector<parley::core::Message> batch, Done done) override {
    real_.append(std::move(batch), std::move(done));
  }
  void read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit, ReadDone done) override {
    real_.read(std::move(room), after, before, limit, std::move(done));
  }
  void find_room(std::string room, FindRoomDone done) override { real_.find_room(std::move(room), std::move(done)); }
  void create_user(parley::store::StoredUser user, Done done) override {
    real_.create_user(std::move(user), std::move(done));
  }
  void find_user_by_name_key(std::string key, FindUserDone done) override {
    real_.find_user_by_name_key(std::move(key), std::move(done));
  }
  void find_user(std::string id, FindUserDone done) override { real_.find_user(std::move(id), std::move(done)); }
  void set_password(std::string user, std::string hash, std::string keep, Done done) override {
    real_.set_password(std::move(user), std::move(hash), std::move(keep), std::move(done));
  }
  void delete_user(std::string user, Done done) override { real_.delete_user(std::move(user), std::move(done)); }
  void create_session(parley::store::StoredSession session, std::size_t max_per_user, CreateSessionDone done) override {
    real_.create_session(std::move(session), max_per_user, std::move(done));
  }
  void find_session(std::string digest, std::int64_t now_ms, FindSessionDone done) override {
    real_.find_session(std::move(digest), now_ms, std::move(done));
  }
  void touch_session(std::string digest, std::int64_t seen, std::int64_t expires, Done done) override {
    real_.touch_session(std::move(digest), seen, expires, std::move(done));
  }
  void list_sessions(std::string user, ListSessionsDone done) override {
    real_.list_sessions(std::move(user), std::move(done));
  }
  void load_access(std::string room, AccessDone done) override { real_.load_access(std::move(room), std::move(done)); }
  void set_member(std::string room, parley::store::StoredMember m, Done done) override {
    real_.set_member(std::move(room), std::move(m), std::move(done));
  }
  void remove_member(std::string room, std::string user, bool ban, Done done) override {
    real_.remove_member(std::move(room), std::move(user), ban, std::move(done));
  }
  void unban(std::string room, std::string user, Done done) override {
    real_.unban(std::move(room), std::move(user), std::move(done));
  }
  void load_roster(std::string room, std::size_t limit, RosterDone done) override {
    real_.load_roster(std::move(room), limit, std::move(done));
  }
  void set_room_info(std::string room, std::string title, std::string topic, Done done) override {
    real_.set_room_info(std::move(room), std::move(title), std::move(topic), std::move(done));
  }
  void revoke_session(std::string user, std::string digest, Done done) override {
    real_.revoke_session(std::move(user), std::move(digest), std::move(done));
  }
  void revoke_sessions(std::string user, Done done) override {
    real_.revoke_sessions(std::move(user), std::move(done));
  }
  void sweep_sessions(std::int64_t now_ms, Done done) override { real_.sweep_sessions(now_ms, std::move(done)); }
  void set_read(std::string user_id, std::string room, std::uint64_t seq, SetReadDone done) override {
    real_.set_read(std::move(user_id), std::move(room), seq, std::move(done));
  }
  void read_states(std::string user_id, std::string name_key, std::vector<std::string> rooms,
                   ReadStatesDone done) override {
    real_.read_states(std::move(user_id), std::move(name_key), std::move(rooms), std::move(done));
  }
  void room_reads(std::string room, std::size_t limit, SeenDone done) override {
    real_.room_reads(std::move(room), limit, std::move(done));
  }
  void search(parley::store::SearchQuery query, SearchDone done) override {
    real_.search(std::move(query), std::move(done));
  }
  void create_api_key(parley::store::StoredApiKey key, Done done) override {
    real_.create_api_key(std::move(key), std::move(done));
  }
  void find_api_key(std::string id, FindApiKeyDone done) override {
    real_.find_api_key(std::move(id), std::move(done));
  }
  void list_api_keys(ListApiKeysDone done) override { real_.list_api_keys(std::move(done)); }
  void revoke_api_key(std::string id, std::int64_t now_ms, RevokeApiKeyDone done) override {
    real_.revoke_api_key(std::move(id), now_ms, std::move(done));
  }
  void touch_api_key(std::string id, std::int64_t now_ms, Done done) override {
    real_.touch_api_key(std::move(id), now_ms, std::move(done));
  }
  void put_file(parley::store::StoredFile file, std::uint64_t quota, Done done) override {
    real_.put_file(std::move(file), quota, std::move(done));
  }
  void find_file(std::string id, FindFileDone done) override { real_.find_file(std::move(id), std::move(done)); }
  void claim_files(std::string room, std::string uploader, std::string cid, std::vector<std::string> ids,
                   std::int64_t now_ms, FilesDone done) override {
    real_.claim_files(std::move(room), std::move(uploader), std::move(cid), std::move(ids), now_ms, std::move(done));
  }
  void take_file_trash(std::int64_t before, std::size_t limit, FileIdsDone done) override {
    real_.take_file_trash(before, limit, std::move(done));
  }
  void flush() override { real_.flush(); }
  void stop() override { real_.stop(); }
  parley::store::StoreStats stats() const override { return real_.stats(); }

 protected:
  parley::store::Store& real_;
};

}  // namespace parley::test
