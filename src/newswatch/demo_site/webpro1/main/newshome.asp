<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<HTML><HEAD>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">
<!-- Sample page for the newswatch project: FICTIONAL news written in the markup of
     gulfoilandgas.com. Companies, people, figures and events are invented. -->
<TITLE>Latest Oil and Gas News - Gulf Oil and Gas News</TITLE>
<script type="text/javascript">
  var _gaq = _gaq || [];
  _gaq.push(['_setAccount', 'UA-1234567-1']);
  _gaq.push(['_trackPageview']);
  (function() { var ga = document.createElement('script'); ga.type = 'text/javascript'; ga.async = true;
    ga.src = ('https:' == document.location.protocol ? 'https://ssl' : 'http://www') + '.google-analytics.com/ga.js';
    var s = document.getElementsByTagName('script')[0]; s.parentNode.insertBefore(ga, s); })();
</script>
<link rel="stylesheet" href="/css/style.css" type="text/css">
<link rel="shortcut icon" href="/favicon.ico">
</HEAD>
<BODY leftmargin=0 topmargin=0>
<table class="topmenu" width="100%" cellspacing=0 cellpadding=3 bgcolor="#003366"><tr>
<td><a href="/">Home</a> | <a href="/webpro1/main/newshome.asp">News</a> | <a href="/webpro1/prj/projects.asp">Projects</a> | <a href="/webpro1/main/tenders.asp">Tenders</a> | <a href="/webpro1/main/events.asp">Events</a> | <a href="/webpro1/main/jobs.asp">Jobs</a> | <a href="/webpro1/main/directory.asp">Directory</a>
<td align="right"><form action="/webpro1/main/search.asp" method="get" style="margin:0"><input type="text" name="q" size="18">&nbsp;<input type="submit" value="Search"></form>
</tr></table>
<table class="regionmenu" width="100%" cellpadding=2><tr><td><a href="/webpro1/main/newslist.asp?id=ME">Middle East</a> &nbsp;|&nbsp; <a href="/webpro1/main/newslist.asp?id=AF">Africa</a> &nbsp;|&nbsp; <a href="/webpro1/main/newslist.asp?id=AS">Asia</a> &nbsp;|&nbsp; <a href="/webpro1/main/newslist.asp?id=EU">Europe</a> &nbsp;|&nbsp; <a href="/webpro1/main/newslist.asp?id=AM">Americas</a> &nbsp;|&nbsp; <a href="/webpro1/main/newslist.asp?id=AU">Australia</a>
</table>
<div class="adbanner" align="center"><a href="/ads/click.asp?id=7"><img src="/ads/banner.gif" width=728 height=90 border=0 alt="Advertisement"></a></div>
<TABLE width="100%" border=0 cellpadding=6><TR><TD valign="top" width="160" class="leftcol">
<b>Sections</b><br><a href="/webpro1/main/newshome.asp">Latest News</a><br><a href="/webpro1/prj/projects.asp">Project Tracker</a><br><a href="/webpro1/main/tenders.asp">Tenders</a><br><a href="/webpro1/main/events.asp">Events &amp; Conferences</a><br>
<TD valign="top" class="maincol">
<h2 class="pagehead">Latest Oil and Gas News</h2>
<div class="newsblock">
  <a class="newslinkgog" href="/webpro1/main/mainnews.asp?id=1412301"><b>Meridian Cells Starts Pilot Production of Solid-State Batteries in Arizona</b></a>
  <table><tr><td class="newssubblock">Meridian Cells Inc. said on Wednesday it has started pilot production of solid-state batteries at its plant in Chandler, Arizona, with the first A-sample cells due to ship to a European carmaker and a...</table>
  <span class="lblues">United States &gt;&gt; 4/16/2025</span>
</div>
<hr size=1 noshade color=#CCCCCC>
<div class="newsblock">
  <a class="newslinkgog" href="mainnews.asp?id=1412303"><b>Dutch Grid Operator Installs Solid-State Circuit Breakers on Offshore Wind Link</b></a>
  <table><tr><td class="newssubblock">Dutch transmission system operator Nordzee Net said it has installed the first solid-state DC circuit breakers on a high-voltage direct current link, at the converter station that connects the 2 GW Ze...</table>
  <span class="lblues">Netherlands &gt;&gt; 4/16/2025</span>
</div>
<hr size=1 noshade color=#CCCCCC>
<div class="newsblock">
  <a class="newslinkgog" href="./mainnews.asp?id=1412305"><b>Floating LNG Unit Off Mozambique Produces First Gas</b></a>
  <table><tr><td class="newssubblock">The Indico FLNG vessel, moored in 2,000 metres of water off Cabo Delgado province, has produced its first liquefied natural gas, operator Rovuma Offshore Gas said on Wednesday....</table>
  <span class="lblues">Mozambique &gt;&gt; 4/16/2025</span>
</div>
<hr size=1 noshade color=#CCCCCC>
<div class="newsblock">
  <A CLASS="newslinkgog" HREF="mainnews.asp?id=1412302"><b>Indian Refiner Takes Stake in Bengaluru Start-up Developing EV Battery Cells</b></A>
  <table><tr><td class="newssubblock">Deccan Petroleum Corporation said it will invest 4.2 billion rupees for a 26% stake in Bengaluru-based Kaveri Cell Labs, which is developing all-solid-state lithium cells for two- and three-wheelers, ...</table>
  <span class="lblues">India &gt;&gt; 4/15/2025</span>
</div>
<hr size=1 noshade color=#CCCCCC>
<div class="newsblock">
  <a class="newslinkgog" href="/webpro1/main/mainnews.asp?id=1412306"><b>Iraq Signs Contract to Capture Flared Gas at Southern Oilfield</b></a>
  <table><tr><td class="newssubblock">Iraq’s oil ministry has signed a US$620 million contract with a consortium led by Emirates-based Falcon Gas Services to capture and process associated gas that is now flared at the West Qurnain field ...</table>
  <span class="lblues">Iraq &gt;&gt; 4/15/2025</span>
</div>
<hr size=1 noshade color=#CCCCCC>
<div class="newsblock">
  <a class="newslinkgog" href="../main/mainnews.asp?id=1412308"><b>Exploration Well Off Namibia Finds Light Oil in Cretaceous Sands</b></a>
  <table><tr><td class="newssubblock">Oranje Petroleum and its partners have found light oil with the Gemsbok-1X exploration well in the Orange Basin off southern Namibia, the operator said on Tuesday, the latest discovery in the basin....</table>
  <span class="lblues">Namibia &gt;&gt; 4/15/2025</span>
</div>
<hr size=1 noshade color=#CCCCCC>
<div class="newsblock">
  <a class="newslinkgog" href="mainnews.asp?id=1412304"><b>Kuwait Refinery Completes Switch to Solid-State Lighting Across Process Units</b></a>
  <table><tr><td class="newssubblock">Gulf Arabian Refining Company said it has replaced about 14,000 high-pressure sodium and metal-halide fixtures at its Shuaiba refinery with explosion-proof LED fittings, a solid-state lighting retrofi...</table>
  <span class="lblues">Kuwait &gt;&gt; 4/14/2025</span>
</div>
<hr size=1 noshade color=#CCCCCC>
<div class="newsblock">
  <A CLASS="newslinkgog" HREF="/webpro1/main/mainnews.asp?id=1412307"><b>North Sea Decommissioning Campaign Plugs 22 Wells Ahead of Schedule</b></A>
  <table><tr><td class="newssubblock">Aberdeen-based Thistle Basin Energy said a 14-month decommissioning campaign on three retired platforms in the central North Sea has permanently plugged and abandoned 22 wells, finishing six weeks ear...</table>
  <span class="lblues">United Kingdom &gt;&gt; 4/14/2025</span>
</div>
<p align="center"><a href="?page=2">Next page &gt;</a>
<TD valign="top" width="300" class="rightcol"><div class="adbox"><a href="/ads/click.asp?id=31"><img src="/ads/sky_31.gif" width=300 height=600 border=0></a></div>
</TR></TABLE>
<div class="footer">Gulf Oil and Gas<br>Copyright &copy; 2023 ICT All rights reserved. - <a href="/terms.asp">Terms of Service</a> - <a href="/privacy.asp">Privacy Policy</a>.</div>
<script type="text/javascript">
function bookmarksite(title, url) {
  if (window.sidebar) window.sidebar.addPanel(title, url, "");
  else if (document.all) window.external.AddFavorite(url, title);
}
</script>
</BODY></HTML>
