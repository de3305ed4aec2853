//! The scope filter, judged on the wire: a raw peer holding a valid cell credential speaks the protocol to
//! a running city node and asks for everything it can — the whole change log from the start, a
//! reconciliation over the whole id space, and `Want`s for documents of another cell — and every change
//! that comes back must be about a member of its own cell. What the honest cell would keep is not the
//! question here: only what the city sends.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use negentropy::{Id, Negentropy, NegentropyStorageVector};
use rollmesh::demo::Mesh;
use rollmesh::Node;
use rollmesh_model::{Field, MemberId, OrgTree};
use rollmesh_proto::SignedChange;
use rollmesh_sync::{Msg, Record};

const CELL_A: &str = "hn.d01.w01.c01";
const CELL_B: &str = "hn.d02.w02.c02";
const STEP: Duration = Duration::from_secs(10);

/// What a raw session got back.
struct Seen {
    /// Every change record received, by document.
    docs: BTreeSet<MemberId>,
    /// The state hashes reconciliation said the city holds and we lack.
    offered: Vec<[u8; 32]>,
    /// Whether reconciliation and Want actually ran.
    recon_rounds: usize,
    want_answered: bool,
}

fn docs_of(records: &[Record], into: &mut BTreeSet<MemberId>) {
    for r in records.iter().filter(|r| r.is_change()) {
        let c = SignedChange::decode(r.body.clone()).expect("the city sends valid envelopes");
        into.insert(c.doc());
    }
}

struct Wire {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
}

impl Wire {
    async fn send(&mut self, m: &Msg) {
        rollmesh_net::write_frame(&mut self.send, &m.encode().expect("encode"))
            .await
            .expect("write");
    }

    async fn recv(&mut self) -> Msg {
        let f = tokio::time::timeout(STEP, rollmesh_net::read_frame(&mut self.recv))
            .await
            .expect("the city answers in time")
            .expect("read")
            .expect("a frame");
        Msg::decode(&f).expect("decode")
    }
}

/// Connects to the city as the node whose data directory is `cell_dir` and runs the greedy session,
/// also wanting `extra` state hashes (another cell's documents).
async fn greedy_session(
    city: SocketAddr,
    cell_dir: &Path,
    extra: &[[u8; 32]],
    gone: &[MemberId],
) -> Seen {
    let (seed, chain) = {
        let n = Node::open(cell_dir).expect("open cell");
        let chain = n.own_chain().expect("chain").expect("installed").encode();
        (n.key_seed(), chain)
    };
    let id = rollmesh_net::Identity::from_seed(&seed).expect("identity");
    let ep = rollmesh_net::endpoint(&id, "127.0.0.1:0".parse().expect("addr")).expect("endpoint");
    let conn = tokio::time::timeout(STEP, ep.connect(city, "rollmesh").expect("connect"))
        .await
        .expect("handshake in time")
        .expect("handshake");
    let (send, recv) = conn.open_bi().await.expect("stream");
    let mut w = Wire { send, recv };
    w.send(&Msg::Auth {
        chain,
        revocations: Vec::new(),
    })
    .await;
    assert!(
        matches!(w.recv().await, Msg::Auth { .. }),
        "the city presents itself"
    );
    let mut seen = Seen {
        docs: BTreeSet::new(),
        offered: Vec::new(),
        recon_rounds: 0,
        want_answered: false,
    };

    // 1. The whole log from the start.
    w.send(&Msg::Pull { index: 0, from: 0 }).await;
    let (index, head) = loop {
        match w.recv().await {
            Msg::Reset { index, head } => break (index, head),
            Msg::Pull { .. } => continue, // the city pulls from us too
            other => panic!("expected Reset, got {other:?}"),
        }
    };
    let mut from = 0;
    for _ in 0..1000 {
        w.send(&Msg::Pull { index, from }).await;
        let (upto, records) = loop {
            match w.recv().await {
                Msg::Batch { upto, records, .. } => break (upto, records),
                Msg::Pull { .. } => continue,
                other => panic!("expected Batch, got {other:?}"),
            }
        };
        docs_of(&records, &mut seen.docs);
        from = upto;
        if upto >= head {
            break;
        }
    }
    assert!(
        from >= head,
        "the log was read to its head ({from} of {head})"
    );

    // 2. Reconciliation from an empty set: "tell me every document you have".
    let mut set = NegentropyStorageVector::new();
    set.seal().expect("seal");
    let mut neg = Negentropy::owned(set, 0).expect("negentropy");
    let mut payload = neg.initiate().expect("initiate");
    let mut need: Vec<Id> = Vec::new();
    for _ in 0..100 {
        w.send(&Msg::Recon { payload }).await;
        let reply = loop {
            match w.recv().await {
                Msg::ReconReply { payload } => break payload,
                Msg::Pull { .. } | Msg::Batch { .. } => continue,
                other => panic!("expected Recon, got {other:?}"),
            }
        };
        seen.recon_rounds += 1;
        let mut have = Vec::new();
        match neg
            .reconcile_with_ids(&reply, &mut have, &mut need)
            .expect("reconcile")
        {
            Some(next) => payload = next,
            None => break,
        }
    }
    seen.offered = need.iter().map(|i| *i.as_bytes()).collect();

    // 3. Want: everything offered, and documents of another cell, both by state hash and as documents
    //    it claims to hold and to have seen leave its scope.
    let mut ids = seen.offered.clone();
    ids.extend_from_slice(extra);
    w.send(&Msg::Want {
        ids,
        gone: gone.iter().map(|m| m.0).collect(),
    })
    .await;
    loop {
        match w.recv().await {
            Msg::Batch {
                from: 0, records, ..
            } => {
                docs_of(&records, &mut seen.docs);
                seen.want_answered = true;
                break;
            }
            Msg::Pull { .. } | Msg::Batch { .. } => continue,
            other => panic!("expected the Want's batch, got {other:?}"),
        }
    }
    conn.close(0u32.into(), b"done");
    ep.wait_idle().await;
    seen
}

fn add_members(city: &Node, unit: &str, n: usize) -> BTreeSet<MemberId> {
    let mut ids = BTreeSet::new();
    let mut changes = Vec::new();
    for k in 0..n {
        let mut f = std::collections::BTreeMap::new();
        f.insert(Field::FullName, format!("Nguyễn Văn {unit} {k}"));
        f.insert(Field::Unit, unit.to_string());
        let (id, vc) = city.new_member(f, Vec::new()).expect("member");
        ids.insert(id);
        changes.push(vc);
    }
    city.commit_own(changes).expect("commit");
    ids
}

#[test]
fn a_cell_gets_nothing_outside_its_scope_on_the_wire() {
    let dir = tempfile::tempdir().expect("tmp");
    let tree = OrgTree::from_toml(rollmesh::org::DEMO_TREE).expect("tree");
    let mut mesh = Mesh::create(&support::bin(), dir.path(), &tree).expect("mesh");
    let city_i = mesh.index("hn");
    assert!(mesh.index(CELL_A) < mesh.nodes.len() && mesh.index(CELL_B) < mesh.nodes.len());
    let (a_i, b_i) = (mesh.index(CELL_A), mesh.index(CELL_B));
    let (in_a, in_b) = {
        let city = Node::open(&mesh.nodes[city_i].data).expect("open city");
        let a = add_members(&city, CELL_A, 6);
        let b = add_members(&city, CELL_B, 5);
        add_members(&city, "hn.d01.w01.c02", 4); // a sibling cell in the same ward
        add_members(&city, "hn", 3); // the city's own unit
        (a, b)
    };
    mesh.start(city_i).expect("start city");
    let addr_file = mesh.nodes[city_i].data.join("listen.addr");
    mesh.wait_until(Duration::from_secs(20), |_| addr_file.exists())
        .unwrap_or_else(|e| panic!("{e}\n{}", mesh.report()));
    let city: SocketAddr = std::fs::read_to_string(&addr_file)
        .expect("addr")
        .trim()
        .parse()
        .expect("parse");
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // Cell B's own session gives the state hashes of B's documents: what A will ask for. Every cell
    // also gets the organisation tree the city published (an organisation-wide document).
    let tree_doc = MemberId(rollmesh_model::orgdoc::OrgDocKind::Tree.id());
    let mut b = rt.block_on(greedy_session(city, &mesh.nodes[b_i].data, &[], &[]));
    assert!(b.docs.remove(&tree_doc), "cell B receives the city's tree");
    assert_eq!(b.docs, in_b, "cell B receives exactly its members");
    assert_eq!(
        b.offered.len(),
        in_b.len() + 1,
        "reconciliation offers B its documents and the tree"
    );

    let b_docs: Vec<MemberId> = in_b.iter().copied().collect();
    let a = rt.block_on(greedy_session(
        city,
        &mesh.nodes[a_i].data,
        &b.offered,
        &b_docs,
    ));
    mesh.stop_all();
    let mut a = a;
    assert!(a.docs.remove(&tree_doc), "cell A receives the city's tree");
    assert!(
        a.recon_rounds > 0 && a.want_answered,
        "reconciliation and Want ran"
    );
    assert_eq!(
        a.offered.len(),
        in_a.len() + 1,
        "reconciliation offers A only its documents and the tree"
    );
    let leaked: Vec<&MemberId> = a.docs.difference(&in_a).collect();
    assert!(
        leaked.is_empty(),
        "the city sent cell A {} changes about members outside its scope: {leaked:?}",
        leaked.len()
    );
    assert_eq!(a.docs, in_a, "cell A receives all of its own members");
}
