// Starts the dashboard's wasm client (/pkg/dashboard.js and dashboard_bg.wasm, written by
// scripts/build-wasm.sh) and hydrates the page's islands: the same walk over <leptos-island>
// elements as leptos's HydrationScripts, kept in a file because the Content-Security-Policy
// allows no inline script. Pages without islands (sign-in, errors) do not load the client.
// Without the wasm (not built, or refused by the browser) the page stays as the server
// rendered it, the Markets price falls back to /assets/live.js, and a running backtest's page
// reloads itself every two seconds.
async function start(root) {
  try {
    const client = await import("/pkg/dashboard.js");
    await client.default({ module_or_path: "/pkg/dashboard_bg.wasm" });
    client.hydrate();
    for (const island of document.querySelectorAll("leptos-island")) {
      const hydrateIsland = client[island.dataset.component];
      if (hydrateIsland) {
        hydrateIsland(island);
      } else {
        console.warn(`dashboard: the wasm client has no island ${island.dataset.component}`);
      }
    }
    root.dataset.client = "wasm";
  } catch (error) {
    console.warn("dashboard: wasm client not loaded, the page stays server-rendered", error);
    root.dataset.client = "none";
    if (document.getElementById("live")) {
      const script = document.createElement("script");
      script.src = "/assets/live.js";
      document.head.append(script);
    }
    // A running backtest's page: reload until the run ends, as the island would have.
    if (document.getElementById("backtest-live")) {
      setTimeout(() => window.location.reload(), 2000);
    }
  }
}

if (document.querySelector("leptos-island")) {
  await start(document.documentElement);
}
