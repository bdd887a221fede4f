/**
 * Interactive API documentation at `/docs`: a self-contained page (no CDN, works offline)
 * that reads `/openapi.json`, lists every operation with its parameters and schemas, and
 * can send a request with the bearer token you paste in.
 *
 * @module
 */

/** The HTML of the documentation page. */
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tradewind API</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{background:#0b3954;color:#fff;padding:14px 24px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header input{flex:1;min-width:260px;padding:6px;border-radius:4px;border:0}
main{max-width:1100px;margin:0 auto;padding:16px}
details{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:8px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:10px;align-items:center}
.m{font:bold 12px monospace;padding:2px 8px;border-radius:3px;color:#fff;min-width:52px;text-align:center}
.get{background:#1f6feb}.post{background:#2da44e}.put{background:#bf8700}.patch{background:#8250df}.delete{background:#cf222e}
.p{font-family:monospace}.s{color:#57606a}.body{padding:0 12px 12px}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;overflow:auto;max-height:360px}
label{display:block;margin:4px 0}label input{width:320px;font-family:monospace}textarea{width:100%;height:120px;font-family:monospace}
button{padding:6px 14px;border:0;border-radius:4px;background:#0b3954;color:#fff;cursor:pointer}
h3{font-size:15px;margin:18px 0 4px;text-transform:capitalize}
</style></head><body>
<header><h1>Tradewind API</h1><input id="token" placeholder="Bearer token (./tradewind token &lt;username&gt;)"></header>
<main id="root">Loading /openapi.json…</main>
<script>
const esc=(s)=>String(s).replace(/[&<>"]/g,(c)=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
const tok=document.getElementById("token");tok.value=localStorage.getItem("tw_token")||"";
tok.oninput=()=>localStorage.setItem("tw_token",tok.value.trim());
fetch("/openapi.json").then(r=>r.json()).then(doc=>{
  const root=document.getElementById("root");root.innerHTML="<p>"+esc(doc.info.title)+" "+esc(doc.info.version)+"</p>";
  const byTag={};
  for(const [path,ops] of Object.entries(doc.paths))for(const [m,op] of Object.entries(ops))(byTag[(op.tags||["other"])[0]]??=[]).push({path,m,op});
  for(const [tag,list] of Object.entries(byTag)){
    const h=document.createElement("h3");h.textContent=tag;root.appendChild(h);
    for(const {path,m,op} of list){
      const d=document.createElement("details");
      const params=op.parameters||[];
      d.innerHTML='<summary><span class="m '+m+'">'+m.toUpperCase()+'</span><span class="p">'+esc(path)+'</span><span class="s">'+esc(op.summary||"")+'</span></summary>'+
        '<div class="body">'+(op.description?'<p>'+esc(op.description)+'</p>':'')+
        params.map(p=>'<label>'+esc(p.in)+' <b>'+esc(p.name)+'</b>'+(p.required?' *':'')+' <input data-in="'+p.in+'" data-name="'+esc(p.name)+'" placeholder="'+esc(p.description||p.schema?.type||"")+'"></label>').join("")+
        (op.requestBody?'<p>Body</p><textarea>'+esc(JSON.stringify(example(op.requestBody.content["application/json"].schema,doc),null,2))+'</textarea>':'')+
        '<p><button>Send</button></p><pre class="out" hidden></pre>'+
        '<p>Responses</p><pre>'+esc(JSON.stringify(op.responses,null,2))+'</pre></div>';
      d.querySelector("button").onclick=async()=>{
        let url=path;const q=new URLSearchParams();const headers={};
        for(const i of d.querySelectorAll("input")){if(!i.value)continue;
          if(i.dataset.in==="path")url=url.replace("{"+i.dataset.name+"}",encodeURIComponent(i.value));
          else if(i.dataset.in==="query")q.append(i.dataset.name,i.value);else headers[i.dataset.name]=i.value;}
        if(tok.value.trim())headers.Authorization="Bearer "+tok.value.trim();
        const ta=d.querySelector("textarea");if(ta)headers["Content-Type"]="application/json";
        const res=await fetch(url+(q.toString()?"?"+q:""),{method:m.toUpperCase(),headers,body:ta?ta.value:undefined});
        const out=d.querySelector(".out");out.hidden=false;const text=await res.text();
        let shown=text;try{shown=JSON.stringify(JSON.parse(text),null,2)}catch{}
        out.textContent=res.status+" "+res.statusText+"\\n\\n"+shown;};
      root.appendChild(d);}}
});
function example(s,doc,depth=0){if(!s||depth>5)return null;
  if(s.$ref)return example(doc.components.schemas[s.$ref.split("/").pop()],doc,depth+1);
  if(s.examples)return s.examples[0];if(s.default!==undefined)return s.default;
  if(s.enum)return s.enum[0];if(s.anyOf||s.oneOf)return example((s.anyOf||s.oneOf)[0],doc,depth+1);
  if(s.type==="object"||s.properties){const o={};for(const [k,v] of Object.entries(s.properties||{}))if((s.required||[]).includes(k))o[k]=example(v,doc,depth+1);return o;}
  if(s.type==="array")return[];if(s.type==="string")return"";if(s.type==="number"||s.type==="integer")return 0;if(s.type==="boolean")return false;return null;}
</script></body></html>`;
