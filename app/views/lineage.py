import streamlit as st
from common import ledger

from shared.views import lineage_graph

st.title("Lineage")
st.caption(
    "From raw sources to scoring batches. Software 2.0 (data, runs, models) and "
    "Software 1.0 (rules releases) meet at each deployment."
)
lg = ledger()
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
