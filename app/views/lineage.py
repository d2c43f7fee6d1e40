import streamlit as st
from common import configs, ledger

from shared.ledger import LedgerError
from shared.reports import lineage_graph
from shared.reports.lineage import request_lineage

st.title("Lineage")
st.caption(
    "From raw sources to scoring batches. Software 2.0 (data, runs, models) and "
    "Software 1.0 (rules releases) meet at each deployment."
)
lg = ledger()
cfg, _, _ = configs()
request_id = st.text_input(
    "An online answer's request id (the request_id of a /predict answer)", key="request_id"
)
if request_id.strip():
    try:
        rl = request_lineage(lg, cfg.storage.data_root, request_id.strip())
    except LedgerError as e:
        st.error(str(e))
    else:
        d, mv = rl.deployment, rl.lineage.model
        st.write(
            f"Request **{rl.request_id}** was answered by deployment **{d.id}** ({d.alias}): "
            f"model **{mv.version}** ({mv.family}), rules **{d.rules_version}**, "
            f"trained by run `{mv.flow_run}` on "
            + ", ".join(f"**{x.version}** (raw `{x.raw_source}`)" for x in rl.lineage.datasets)
        )
        st.dataframe(rl.answers, hide_index=True, width="stretch", key="request_answers")
limit = st.slider("Newest model versions shown", 5, 200, 30, step=5)
graph = lineage_graph(lg, max_models=limit)
if graph.nodes.empty:
    st.info("No lineage yet: ingest a batch (`python flows/ingest_flow.py run`).")
    st.stop()
labels = {r.id: r.label.replace("\\n", " · ") for r in graph.nodes.itertuples()}
selected = st.selectbox(
    "Select a node", list(labels), format_func=lambda n: labels[n], key="lineage_node"
)
st.graphviz_chart(graph.dot(highlight=selected), width="stretch")
left, right = st.columns(2)
with left:
    st.subheader("Details")
    st.json(graph.details.get(selected, {}))
with right:
    up, down = graph.neighbours(selected)
    st.subheader("Neighbours")
    st.write("**Comes from**")
    st.write("\n".join(f"- {labels[n]}" for n in up) or "nothing")
    st.write("**Leads to**")
    st.write("\n".join(f"- {labels[n]}" for n in down) or "nothing")
