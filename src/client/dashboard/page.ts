/**
 * The dashboard page: one self-contained document (no CDN, no network beyond its own JSON endpoints).
 * Data goes into the DOM through textContent and SVG attributes only, never as markup.
 */
export function dashboardPage(nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>mcp-orch dashboard</title><link rel="icon" href="data:,">
<style nonce="${nonce}">${CSS}</style></head>
<body>
<header><h1>mcp-orch <span>dashboard</span></h1><div id="srv-dots" aria-label="server health"></div><div id="clock"></div></header>
<main>
<aside>
  <h2>Recent runs</h2>
  <div class="filters"><input id="f-pipeline" placeholder="pipeline (e.g. hello)" aria-label="filter by pipeline">
  <select id="f-status" aria-label="filter by status"><option value="">any status</option><option>Running</option><option>Completed</option><option>Failed</option><option>Canceled</option><option>Terminated</option><option>TimedOut</option></select></div>
  <div id="runs-error" class="error"></div>
  <table id="runs"><thead><tr><th>run</th><th>status</th><th>started</th><th>took</th></tr></thead><tbody></tbody></table>
</aside>
<section id="detail">
  <div id="run-empty" class="muted">No run selected: pick one on the left.</div>
  <div id="run" hidden>
    <div class="run-head"><h2 id="run-title"></h2><span id="run-status" class="pill"></span><a id="run-link" target="_blank" rel="noopener noreferrer">open in Temporal Web UI ↗</a></div>
    <div id="run-line"></div>
    <div class="bar"><div id="run-bar"></div></div>
    <div id="run-metrics" class="metrics"></div>
    <div id="run-note" class="error"></div>
    <div>
      <div class="panel"><h3>DAG <small>live step states, by level</small></h3><div class="scroll"><svg id="dag" role="img" aria-label="pipeline DAG"></svg></div><div id="legend" class="legend"></div></div>
      <div class="panel"><h3>Timeline <small>steps per server: parallelism, retries, compensations</small></h3><div class="scroll"><svg id="gantt" role="img" aria-label="timeline"></svg></div></div>
    </div>
    <div class="panel"><h3>Steps</h3><table id="steps"><thead><tr><th>step</th><th>server/tool</th><th>state</th><th>att.</th><th>start</th><th>duration</th><th>tool time</th><th>summary</th></tr></thead><tbody></tbody></table></div>
    <div class="panels">
      <div class="panel"><h3>Run durations <small id="hist-title"></small></h3><svg id="hist-runs" role="img" aria-label="run durations"></svg></div>
      <div class="panel"><h3>Step latency per tool <small>min · median · max of tool time</small></h3><svg id="hist-tools" role="img" aria-label="tool latency"></svg></div>
    </div>
  </div>
  <h2 class="servers-h">Servers <small id="srv-at"></small></h2>
  <div id="servers" class="cards"></div>
</section>
</main>
<script nonce="${nonce}">${JS}</script>
</body></html>`;
}

const CSS = String.raw`
:root{--bg:#0f1420;--panel:#171e2e;--line:#2a3550;--text:#dfe6f3;--muted:#8d9ab3;--waiting:#66718a;--running:#3b82f6;--retrying:#f59e0b;--done:#22c55e;--failed:#ef4444;--comp:#a855f7;--skipped:#3b4459;--cancelled:#94a3b8}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--text);font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;align-items:center;gap:16px;padding:10px 18px;border-bottom:1px solid var(--line);background:#121827}
h1{font-size:17px;margin:0}h1 span{color:var(--muted);font-weight:400}h2{font-size:15px;margin:4px 0 10px}h3{font-size:13px;margin:0 0 8px}small{color:var(--muted);font-weight:400}
#clock{margin-left:auto;color:var(--muted)}#srv-dots{display:flex;gap:10px}.dot{display:inline-flex;align-items:center;gap:4px;color:var(--muted)}.dot i{width:9px;height:9px;border-radius:50%;display:inline-block}
main{display:grid;grid-template-columns:340px 1fr;min-height:calc(100vh - 46px)}aside{border-right:1px solid var(--line);padding:12px;overflow:auto}section{padding:12px 18px;overflow:auto}
.filters{display:flex;gap:6px;margin-bottom:8px}input,select{background:var(--panel);color:var(--text);border:1px solid var(--line);border-radius:4px;padding:4px 6px;font:inherit}input{flex:1;min-width:0}
table{border-collapse:collapse;width:100%}th{text-align:left;color:var(--muted);font-weight:500;border-bottom:1px solid var(--line);padding:3px 6px}td{padding:3px 6px;border-bottom:1px solid #1d2538;vertical-align:top}
#runs tbody tr{cursor:pointer}#runs tbody tr:hover{background:#1b2336}#runs tr.sel{background:#223052}#runs td:first-child{font-family:ui-monospace,monospace;font-size:11.5px;word-break:break-all}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11.5px;font-weight:600;background:var(--waiting);color:#0b0f18}
.st-RUNNING,.st-running{background:var(--running)}.st-COMPLETED,.st-completed,.st-done{background:var(--done)}.st-FAILED,.st-failed,.st-TIMED_OUT,.st-TERMINATED{background:var(--failed)}.st-CANCELLED,.st-cancelled{background:var(--cancelled)}.st-retrying{background:var(--retrying)}.st-compensating,.st-compensated,.st-paused{background:var(--comp)}
.run-head{display:flex;align-items:center;gap:12px}.run-head h2{margin:0;font-family:ui-monospace,monospace}a{color:#7fb0ff}
#run-line{margin:8px 0 4px;color:var(--muted)}.bar{height:6px;background:var(--panel);border-radius:3px;overflow:hidden;margin-bottom:8px}#run-bar{height:100%;background:var(--done);width:0;transition:width .4s}
.metrics{display:flex;flex-wrap:wrap;gap:6px 18px;margin:6px 0 12px}.metrics div b{display:block;font-size:15px}.metrics div{color:var(--muted)}.metrics div b{color:var(--text)}
.panels{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:12px}.panel{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:10px;margin-bottom:12px}.scroll{overflow:auto}
.legend{display:flex;flex-wrap:wrap;gap:10px;margin-top:6px;color:var(--muted)}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.error{color:#ff8a8a}.muted{color:var(--muted)}#steps td:nth-child(8){color:var(--muted);font-family:ui-monospace,monospace;font-size:11.5px;max-width:360px;word-break:break-word}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:10px}.card{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 10px}.card h3{display:flex;gap:6px;align-items:center}.card .facts{color:var(--muted);font-size:11.5px;word-break:break-word}
svg text{fill:var(--text);font:11px system-ui,sans-serif}svg .m{fill:var(--muted)}svg .edge{stroke:#4b587a;fill:none;stroke-width:1.5}
.node rect{stroke-width:2}.node.running rect,.node.retrying rect{animation:pulse 1.2s ease-in-out infinite}@keyframes pulse{50%{stroke-opacity:.35}}
@media (max-width:1100px){.panels{grid-template-columns:1fr}main{grid-template-columns:1fr}}
`;

const JS = String.raw`
'use strict';
var NS='http://www.w3.org/2000/svg';
var COLORS={waiting:'#66718a',running:'#3b82f6',retrying:'#f59e0b',done:'#22c55e',failed:'#ef4444',skipped:'#3b4459',cancelled:'#94a3b8',compensating:'#a855f7',compensated:'#a855f7',compensation_failed:'#b91c1c'};
var state={runs:[],selected:null,pipeline:null,lastView:null,timer:null};
function $(id){return document.getElementById(id)}
function el(tag,attrs,text){var e=document.createElement(tag);for(var k in attrs||{})e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=String(text);return e}
function sv(tag,attrs,text){var e=document.createElementNS(NS,tag);for(var k in attrs||{})e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=String(text);return e}
function clear(n){while(n.firstChild)n.removeChild(n.firstChild);return n}
function fmt(ms){if(ms===undefined||ms===null||isNaN(ms))return '';if(ms<1000)return Math.round(ms)+' ms';if(ms<60000)return (ms/1000).toFixed(ms<10000?2:1)+' s';var m=Math.floor(ms/60000);return m+' min '+Math.round((ms%60000)/1000)+' s'}
function ago(iso){var s=(Date.now()-Date.parse(iso))/1000;if(s<60)return Math.round(s)+' s ago';if(s<3600)return Math.round(s/60)+' min ago';if(s<86400)return Math.round(s/3600)+' h ago';return new Date(iso).toLocaleDateString()}
function getJSON(url){return fetch(url,{cache:'no-store'}).then(function(r){return r.json().then(function(b){if(!r.ok)throw new Error(b.error||('HTTP '+r.status));return b})})}
function trunc(s,n){s=String(s);return s.length>n?s.slice(0,n-1)+'…':s}

function loadRuns(){
  var q=new URLSearchParams();var p=$('f-pipeline').value.trim(),st=$('f-status').value;if(p)q.set('pipeline',p);if(st)q.set('status',st);
  return getJSON('/api/runs?'+q).then(function(b){$('runs-error').textContent='';state.runs=b.runs;drawRuns();
    if(!state.selected&&b.runs.length)select(b.runs[0].workflowId)}).catch(function(e){$('runs-error').textContent=e.message});
}
function drawRuns(){
  var tb=clear($('runs').tBodies[0]);
  state.runs.forEach(function(r){var tr=el('tr',{'data-run':r.workflowId});if(r.workflowId===state.selected)tr.className='sel';
    tr.appendChild(el('td',{},r.workflowId));var td=el('td');td.appendChild(el('span',{class:'pill st-'+r.status},r.status.toLowerCase()));tr.appendChild(td);
    tr.appendChild(el('td',{title:r.startTime},ago(r.startTime)));tr.appendChild(el('td',{},r.durationMs!==undefined?fmt(r.durationMs):'…'));
    tr.addEventListener('click',function(){select(r.workflowId)});tb.appendChild(tr)});
  if(!state.runs.length)tb.appendChild(el('tr')).appendChild(el('td',{colspan:4,class:'muted'},'no runs match'));
}
function select(id){state.selected=id;location.hash='run='+encodeURIComponent(id);drawRuns();$('run-empty').hidden=true;$('run').hidden=false;state.lastView=null;pollRun()}
function pollRun(){
  clearTimeout(state.timer);if(!state.selected)return;var id=state.selected;
  getJSON('/api/runs/'+encodeURIComponent(id)).then(function(v){if(id!==state.selected)return;$('run-note').textContent=v.note||'';drawRun(v);
    state.timer=setTimeout(pollRun,v.execution==='RUNNING'?1000:5000)}).catch(function(e){$('run-note').textContent=e.message;state.timer=setTimeout(pollRun,3000)});
}
function stateOf(v,id){var l=v.live[id];return l?l.state:'waiting'}
function drawRun(v){
  state.lastView=v;var p=v.progress;var row=state.runs.filter(function(r){return r.workflowId===v.workflowId})[0];if(row&&row.status!==v.execution)loadRuns();$('run-title').textContent=v.workflowId;
  var st=p?(p.paused?'paused':p.status):v.execution.toLowerCase();var pill=$('run-status');pill.textContent=st;pill.className='pill st-'+st;pill.setAttribute('data-status',st);
  $('run-link').href=v.url;
  if(!p){clear($('dag'));clear($('gantt'));clear($('steps').tBodies[0]);return}
  var steps=Object.keys(p.steps).map(function(k){return p.steps[k]});var done=steps.filter(function(s){return s.status==='done'||s.status==='compensated'}).length;
  var running=steps.filter(function(s){var x=stateOf(v,s.id);return x==='running'||x==='retrying'});
  var phases=running.map(function(s){return s.phase}).filter(Boolean);
  var elapsed=(p.endedAt||v.now)-p.startedAt;
  $('run-line').textContent='pipeline '+p.pipeline+' · '+(phases.length?'phase '+phases.filter(function(x,i,a){return a.indexOf(x)===i}).join(', ')+' · ':'')+done+'/'+steps.length+' steps done'+(running.length?' · running: '+running.map(function(s){return s.id}).join(', '):'')+' · '+fmt(elapsed)+(p.error?' · error at '+p.error.stepId+': '+p.error.message:'');
  $('run-bar').style.width=(100*done/Math.max(1,steps.length))+'%';
  var m=v.metrics,mt=clear($('run-metrics'));
  if(m){[['makespan',fmt(m.makespanMs)],['critical path',fmt(m.criticalPathMs)],['parallel efficiency',(m.parallelEfficiency*100).toFixed(1)+' %'],['tool calls',m.toolCalls],['success',(m.toolSuccessRate*100).toFixed(0)+' %'],['retries',m.retries],['most at once',v.gantt?v.gantt.maxParallel:''],['MCP transport',m.meanTransportMs.toFixed(1)+' ms/call']].forEach(function(x){var d=el('div',{},x[0]);d.insertBefore(el('b',{},x[1]),d.firstChild);mt.appendChild(d)})}
  drawDag(v);drawGantt(v);drawSteps(v);
  if(state.pipeline!==p.pipeline){state.pipeline=p.pipeline;loadHistory()}
}
function drawDag(v){
  var p=v.progress,svg=clear($('dag')),W=178,H=50,GX=58,GY=14,pos={};
  var rows=Math.max.apply(null,v.levels.map(function(l){return l.length}).concat([1]));
  var height=rows*(H+GY)+GY,width=v.levels.length*(W+GX)+GX/2;svg.setAttribute('width',width);svg.setAttribute('height',height);svg.setAttribute('viewBox','0 0 '+width+' '+height);
  v.levels.forEach(function(lvl,i){var off=(height-lvl.length*(H+GY)+GY)/2;lvl.forEach(function(id,j){pos[id]={x:GX/2+i*(W+GX),y:off+j*(H+GY)}})});
  Object.keys(p.steps).forEach(function(id){var s=p.steps[id];(s.needs||[]).forEach(function(n){var a=pos[n],b=pos[id];if(!a||!b)return;var x1=a.x+W,y1=a.y+H/2,x2=b.x,y2=b.y+H/2,mx=(x1+x2)/2;
    svg.appendChild(sv('path',{class:'edge',d:'M'+x1+','+y1+' C'+mx+','+y1+' '+mx+','+y2+' '+(x2-4)+','+y2,'marker-end':'url(#arrow)'}))})});
  var defs=sv('defs');var mk=sv('marker',{id:'arrow',viewBox:'0 0 8 8',refX:'6',refY:'4',markerWidth:'7',markerHeight:'7',orient:'auto'});mk.appendChild(sv('path',{d:'M0,0 L8,4 L0,8 z',fill:'#4b587a'}));defs.appendChild(mk);svg.insertBefore(defs,svg.firstChild);
  Object.keys(pos).forEach(function(id){var s=p.steps[id],l=v.live[id]||{},st=l.state||'waiting',c=COLORS[st]||'#666',q=pos[id];
    var g=sv('g',{class:'node '+st,'data-step':id,'data-state':st,transform:'translate('+q.x+','+q.y+')'});
    g.appendChild(sv('rect',{width:W,height:H,rx:6,fill:c+'26',stroke:c}));
    g.appendChild(sv('text',{x:8,y:16,'font-weight':'600'},trunc(id,24)));g.appendChild(sv('text',{x:8,y:30,class:'m'},trunc(s.server+'/'+s.tool,28)));
    var dur=s.startedAt!==undefined?fmt((s.endedAt||v.now)-s.startedAt):'';
    g.appendChild(sv('text',{x:8,y:44,fill:c},st.replace('_',' ')+(l.attempt>1?' · attempt '+l.attempt:'')+(dur?' · '+dur:'')));
    var t=sv('title',{},s.id+' — '+(s.description||'')+(l.lastFailure?'\nlast failure: '+l.lastFailure:''));g.appendChild(t);svg.appendChild(g)});
  var lg=clear($('legend'));['waiting','running','retrying','done','failed','compensated','skipped'].forEach(function(k){var s=el('span');var i=el('i');i.style.background=COLORS[k];s.appendChild(i);s.appendChild(document.createTextNode(k));lg.appendChild(s)});
}
function drawGantt(v){
  var g=v.gantt,svg=clear($('gantt'));if(!g)return;var L=110,R=16,RH=20,top=22,width=Math.max(460,svg.parentNode.clientWidth-4),plot=width-L-R,y=top,laneY={};
  var sx=function(ms){return L+plot*ms/g.spanMs};
  g.lanes.forEach(function(l){laneY[l.server]=y;y+=l.rows*RH+10});var height=Math.max(y+6,60);
  svg.setAttribute('width',width);svg.setAttribute('height',height);
  var defs=sv('defs');var pat=sv('pattern',{id:'hatch',width:6,height:6,patternUnits:'userSpaceOnUse',patternTransform:'rotate(45)'});pat.appendChild(sv('rect',{width:3,height:6,fill:'#a855f7'}));defs.appendChild(pat);svg.appendChild(defs);
  var step=niceStep(g.spanMs/6);for(var t=0;t<=g.spanMs;t+=step){var x=sx(t);svg.appendChild(sv('line',{x1:x,x2:x,y1:top-6,y2:height,stroke:'#243049'}));svg.appendChild(sv('text',{x:x+2,y:12,class:'m'},fmt(t)))}
  g.lanes.forEach(function(l){svg.appendChild(sv('text',{x:6,y:laneY[l.server]+14,'font-weight':'600'},l.server));svg.appendChild(sv('line',{x1:0,x2:width,y1:laneY[l.server]+l.rows*RH+4,y2:laneY[l.server]+l.rows*RH+4,stroke:'#2a3550'}))});
  g.bars.forEach(function(b){var x=sx(b.startMs),w=Math.max(3,sx(b.endMs)-x),by=laneY[b.server]+b.row*RH,c=COLORS[b.state]||'#666';
    var r=sv('rect',{x:x,y:by+2,width:w,height:RH-5,rx:3,fill:b.kind==='compensation'?'url(#hatch)':c,stroke:c,'fill-opacity':b.open?0.55:0.9,'data-bar':b.stepId,'data-kind':b.kind});
    r.appendChild(sv('title',{},b.stepId+(b.kind==='compensation'?' (compensation)':'')+' · '+b.state+' · '+fmt(b.endMs-b.startMs)+(b.attempts>1?' · '+b.attempts+' attempts':'')));svg.appendChild(r);
    var label=(b.kind==='compensation'?'↺ ':'')+b.stepId+(b.attempts>1?' ×'+b.attempts:'');
    var lw=label.length*6.2;if(w>lw)svg.appendChild(sv('text',{x:x+4,y:by+RH-7,fill:'#0b0f18','font-weight':'600'},label));else if(x+w+3+lw<width)svg.appendChild(sv('text',{x:x+w+3,y:by+RH-7,class:'m'},label));else svg.appendChild(sv('text',{x:x-3,y:by+RH-7,class:'m','text-anchor':'end'},label))});
}
function niceStep(x){var p=Math.pow(10,Math.floor(Math.log10(Math.max(x,1))));var n=x/p;return (n<1.5?1:n<3.5?2:n<7.5?5:10)*p}
function drawSteps(v){
  var p=v.progress,tb=clear($('steps').tBodies[0]);
  Object.keys(p.steps).forEach(function(id){var s=p.steps[id],l=v.live[id]||{},tr=el('tr',{'data-step-row':id});
    tr.appendChild(el('td',{},id));tr.appendChild(el('td',{},s.server+'/'+s.tool));var td=el('td');td.appendChild(el('span',{class:'pill st-'+l.state},(l.state||'').replace('_',' ')));tr.appendChild(td);
    tr.appendChild(el('td',{},l.attempt||''));tr.appendChild(el('td',{},s.startedAt!==undefined?'+'+fmt(s.startedAt-p.startedAt):''));
    tr.appendChild(el('td',{},s.startedAt!==undefined?fmt((s.endedAt||v.now)-s.startedAt)+(s.endedAt?'':' …'):''));tr.appendChild(el('td',{},fmt(s.toolTimeMs)));
    var sum=s.error?((s.error.type?s.error.type+': ':'')+s.error.message):s.summary?Object.keys(s.summary).map(function(k){return k+'='+s.summary[k]}).join(', '):(l.lastFailure?'retrying after: '+l.lastFailure:'');
    if(s.compensation)sum+=(sum?' · ':'')+'compensation '+s.compensation.status+(s.compensation.error?': '+s.compensation.error:'');
    tr.appendChild(el('td',{},trunc(sum,300)));tb.appendChild(tr)});
}
function loadHistory(){
  if(!state.pipeline)return;var pl=state.pipeline;$('hist-title').textContent='completed runs of '+pl;
  getJSON('/api/history?pipeline='+encodeURIComponent(pl)).then(function(h){if(pl!==state.pipeline)return;drawHistRuns(h);drawHistTools(h)}).catch(function(e){$('hist-title').textContent=e.message});
}
function drawHistRuns(h){
  var svg=clear($('hist-runs')),W=Math.max(300,svg.parentNode.clientWidth-22),H=150,L=50,B=18;svg.setAttribute('width',W);svg.setAttribute('height',H);
  if(!h.runs.length){svg.appendChild(sv('text',{x:8,y:20,class:'m'},'no completed runs yet'));return}
  var max=Math.max.apply(null,h.runs.map(function(r){return r.durationMs})),bw=Math.min(48,(W-L-6)/h.runs.length);
  [0,0.5,1].forEach(function(f){var y=H-B-(H-B-10)*f;svg.appendChild(sv('line',{x1:L,x2:W,y1:y,y2:y,stroke:'#243049'}));svg.appendChild(sv('text',{x:2,y:y+4,class:'m'},fmt(max*f)))});
  h.runs.forEach(function(r,i){var bh=(H-B-10)*r.durationMs/max,x=L+i*bw+1;var rect=sv('rect',{x:x,y:H-B-bh,width:Math.max(2,bw-2),height:bh,fill:'#3b82f6',rx:2});rect.appendChild(sv('title',{},r.workflowId+': '+fmt(r.durationMs)));svg.appendChild(rect)});
  svg.appendChild(sv('text',{x:L,y:H-3,class:'m'},h.runs.length+' runs, oldest → newest'));
}
function drawHistTools(h){
  var svg=clear($('hist-tools')),W=Math.max(300,svg.parentNode.clientWidth-22),RH=18,L=190,H=Math.max(40,h.tools.length*RH+24);svg.setAttribute('width',W);svg.setAttribute('height',H);
  if(!h.tools.length){svg.appendChild(sv('text',{x:8,y:20,class:'m'},'no completed steps yet'));return}
  var max=Math.max.apply(null,h.tools.map(function(t){return t.maxMs}))||1,sx=function(ms){return L+(W-L-110)*ms/max};
  h.tools.forEach(function(t,i){var y=10+i*RH;svg.appendChild(sv('text',{x:4,y:y+10},trunc(t.tool,30)));
    svg.appendChild(sv('rect',{x:sx(t.minMs),y:y+2,width:Math.max(2,sx(t.maxMs)-sx(t.minMs)),height:10,fill:'#22c55e','fill-opacity':0.35,rx:2}));
    svg.appendChild(sv('rect',{x:sx(t.medianMs)-1.5,y:y,width:3,height:14,fill:'#22c55e'}));svg.appendChild(sv('text',{x:sx(t.maxMs)+6,y:y+10,class:'m'},fmt(t.medianMs)+' (n='+t.n+')'))});
}
function loadServers(){
  getJSON('/api/servers').then(function(d){$('srv-at').textContent=d.at?'discovered '+ago(d.at)+', every 10 s':'discovering…';var box=clear($('servers')),dots=clear($('srv-dots'));
    d.servers.sort(function(a,b){return a.group<b.group?-1:1}).forEach(function(s){var c=s.healthy?'#22c55e':'#ef4444';var dot=el('span',{class:'dot','data-server':s.group});var i=el('i');i.style.background=c;dot.appendChild(i);dot.appendChild(document.createTextNode(s.group));dots.appendChild(dot);
      var card=el('div',{class:'card','data-server-card':s.group,'data-healthy':String(s.healthy)});var h=el('h3');var i2=el('i',{class:'dot'});var ii=el('i');ii.style.background=c;i2.appendChild(ii);h.appendChild(i2);h.appendChild(document.createTextNode(s.group+' '));h.appendChild(el('small',{},s.healthy?'up':'DOWN'));card.appendChild(h);
      card.appendChild(el('div',{},s.healthy?'health '+fmt(s.healthMs)+' · tools/list '+fmt(s.listToolsMs)+' · '+s.tools.length+' tools':trunc(s.error||'unreachable',120)));
      card.appendChild(spark(s.history));
      var facts=Object.keys(s.measured).slice(0,6).map(function(k){return k+': '+s.measured[k]});var lim=Object.keys(s.limits).slice(0,3).map(function(k){return k+': '+s.limits[k]});
      if(facts.length||lim.length)card.appendChild(el('div',{class:'facts'},facts.concat(lim).join(' · ')));
      card.appendChild(el('div',{class:'facts',title:s.tools.join(', ')},trunc(s.tools.join(', '),160)));box.appendChild(card)})}).catch(function(){});
}
function spark(hist){
  var W=228,H=34,svg=sv('svg',{width:W,height:H});var vals=hist.map(function(x){return x.healthMs||0});var max=Math.max.apply(null,vals.concat([1]));
  var pts=hist.map(function(x,i){return (hist.length<2?W/2:i*(W-4)/(hist.length-1)+2)+','+(H-3-(H-8)*(x.healthMs||0)/max)});
  if(pts.length)svg.appendChild(sv('polyline',{points:pts.join(' '),fill:'none',stroke:'#3b82f6','stroke-width':1.5}));
  hist.forEach(function(x,i){if(!x.healthy)svg.appendChild(sv('rect',{x:(hist.length<2?W/2:i*(W-4)/(hist.length-1)),y:0,width:4,height:H,fill:'#ef4444','fill-opacity':0.5}))});
  svg.appendChild(sv('text',{x:W-2,y:10,'text-anchor':'end',class:'m'},'max '+fmt(max)));svg.appendChild(sv('title',{},'health round trip over the last '+hist.length+' rounds'));return svg;
}
$('f-pipeline').addEventListener('input',function(){clearTimeout(state.ft);state.ft=setTimeout(loadRuns,300)});$('f-status').addEventListener('change',loadRuns);
var m=/run=([^&]+)/.exec(location.hash);if(m)select(decodeURIComponent(m[1]));
loadRuns();loadServers();setInterval(loadRuns,5000);setInterval(loadServers,10000);setInterval(loadHistory,30000);
setInterval(function(){$('clock').textContent=new Date().toLocaleTimeString()},1000);
`;
