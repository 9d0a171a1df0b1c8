#!/usr/bin/env python
"""Writes nlu_data/intents/templated.yml: compositional training examples.

Each intent gets sentences built from independent parts (who is speaking, what
institution, what went wrong, what is asked), so the classifier learns the structure
of an utterance rather than memorising the hand-written sentences. Deterministic
(fixed seed); re-run after editing the parts:

    .venv-bot/bin/python bot/nlu_tools/expand_templates.py
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hotline_nlu.normalize import normalize

OUT = Path(__file__).resolve().parents[2] / "nlu_data" / "intents" / "templated.yml"
PER_INTENT = 45
# out_of_scope has the widest variety and was the weakest intent (recall 0.62)
EXTRA = {"out_of_scope": 90}

OPENERS = ["", "", "", "你好，", "喂，", "那个…", "嗯，", "同志，", "麻烦问一下，", "我说一下，"]
# Speaking for someone else. The possessive is a part of its own that is either empty or
# names a family member, so no dangling "的" ("查询的工单") is ever produced.
PROXY_ASK = ["", "", "", "我替我爸问一下", "我帮我妈问问", "我代我儿子问一下", "替家里老人问问", "帮邻居问问"]
OWNER = ["", "", "", "我爸的", "我妈的", "我儿子的", "家里老人的", "邻居的"]
PLACES = [
    "社区",
    "居委会",
    "街道办",
    "区残联",
    "村委会",
    "托养中心",
    "康复机构",
    "办事大厅",
    "银行",
    "医院",
    "学校",
    "用人单位",
    "物业",
    "公交公司",
    "辅具中心",
]
STAFF = ["工作人员", "窗口的人", "专职委员", "社区主任", "办事员", "医生", "老师", "保安", "司机", "负责人"]
WRONGS = [
    "态度很差",
    "对我大吼大叫",
    "一直推诿不办",
    "故意刁难",
    "不给盖章",
    "乱收费",
    "让我来回跑了好几趟",
    "说话很难听",
    "把我的材料弄丢了",
    "不按规定办事",
    "歧视残疾人",
    "拖着不给办",
    "不理不睬",
]
MONEY = ["两项补贴", "护理补贴", "生活补贴", "就业补贴", "康复补助", "托养补贴", "残疾人补贴"]
MONEY_WRONG = ["好几个月没发了", "被停了也不说原因", "被扣了一部分", "少发了", "一直没到账", "被别人冒领了"]
BARRIERS = [
    "盲道被占了",
    "无障碍坡道被堵了",
    "电梯坏了半年没人修",
    "无障碍厕所锁着",
    "残疾人车位被占了",
    "楼门口台阶太高轮椅进不去",
]
COMPLAIN_HEAD = ["我要投诉", "我想投诉", "投诉一下", "我要反映个问题", "我要举报", "我对这事很不满意", "必须投诉"]
COMPLAIN_TAIL = ["", "", "", "，太不像话了", "，你们管不管", "，我很生气", "，希望给个说法", "，到现在没人处理"]

NEEDS = [
    "轮椅坏了没钱修",
    "需要一个助听器",
    "想申请一根盲杖",
    "需要有人上门照顾",
    "家里没人照料我",
    "想找份工作",
    "孩子需要康复训练",
    "需要手语翻译陪同",
    "下不了楼需要人帮忙",
    "生活很困难",
    "想申请托养服务",
    "需要法律援助",
    "房子需要无障碍改造",
    "想申请临时救助",
    "需要志愿者陪我去医院",
]
PROXY_HELP = ["我替我爸来求助", "我帮我妈求助", "我代我儿子来求助", "替家里老人求个助", "帮邻居求个助"]
OTHERS_NEEDS = [n for n in NEEDS if "我" not in n and not n.startswith("孩子")]
HELP_HEAD = ["我需要帮助", "想求助", "请帮帮我", "能不能帮个忙", "求助一下", "希望你们能帮帮忙", "请帮我登记一下"]
WHO = [
    "我",
    "我是盲人，",
    "我是聋人，",
    "我坐轮椅，",
    "我是肢体残疾，",
    "家里老人瘫痪了，",
    "孩子是智力残疾，",
    "我妈是精神残疾，",
    "我一个人住，",
]

TOPICS = [
    "残疾人证",
    "残疾证年审",
    "残疾证补办",
    "评残",
    "两项补贴",
    "护理补贴",
    "生活补贴",
    "康复救助",
    "辅助器具",
    "轮椅",
    "助听器",
    "托养服务",
    "日间照料",
    "就业补贴",
    "盲人按摩",
    "助学金",
    "无障碍改造",
    "法律援助",
    "公交优惠",
    "残疾人养老保险",
]
ASK = [
    "怎么申请",
    "怎么办理",
    "需要什么材料",
    "有什么条件",
    "标准是多少",
    "在哪里办",
    "要多长时间",
    "能不能网上办",
    "有什么政策",
    "谁可以申请",
    "要交钱吗",
]
ASK_HEAD = ["", "", "请问", "我想问一下", "想咨询一下", "问一下", "我想了解", "打听一下"]

DANGER = [
    "我不想活了",
    "他说要跳楼",
    "我家人吞了很多药",
    "有人在打我",
    "我老公又动手打我",
    "我孩子走丢了",
    "我妈有精神病跑出去找不到了",
    "老人晕倒了叫不醒",
    "他突然抽搐了",
    "流了好多血止不住",
    "我喘不上气",
    "有人拿刀在闹",
    "家里着火了我出不去",
    "我摔倒了起不来",
    "托养中心有人虐待老人",
]
URGE = ["", "", "，快来人", "，救命", "，怎么办", "，现在很危险", "，求你们快点"]
EMERG_WHO = ["", "", "我儿子是自闭症，", "我爸是老年痴呆，", "我是聋人，", "我女儿是智力残疾，", "我坐轮椅，"]

STATUS_OBJ = ["工单", "投诉", "求助", "单子", "上次反映的事", "登记的事情", "我的事"]
OTHERS_OBJ = [o for o in STATUS_OBJ if not o.startswith("我")]
STATUS_ASK = [
    "处理得怎么样了",
    "到哪一步了",
    "有结果了吗",
    "办好了没有",
    "有人管了吗",
    "进度如何",
    "有回复没有",
    "受理了吗",
]
STATUS_HEAD = ["", "", "帮我查一下", "我想问问", "查询", "我来问一下", "麻烦看看"]

AFFIRM = ["对", "是的", "没错", "好的", "可以", "行", "嗯", "确认", "对的", "是", "没问题", "好"]
DENY = ["不对", "不是", "不用", "不要", "没有", "不需要", "错了", "不行", "不"]
# No "，谢谢": "好的谢谢" is `thank`, and a tail must not make a yes/no ambiguous: after a
# yes word "吧" asks a question (是吧? 对吧? 没问题吧?), so only the deny words that stay
# a refusal with it take it ("不是吧" is surprise, "没有吧" a guess).
POLITE_TAIL = ["", "", "", "啊", "呀"]
DENY_BA = ["不对", "不用", "不要", "不需要", "不行"]
# normalize() drops a leading 嗯 as a filler, so "嗯呀" would teach that a bare "呀" is a yes
AFFIRM_TAILED = [a for a in AFFIRM if a != "嗯"]

# Out of scope: a request verb before a topic the hotline does not handle (every verb
# fits every topic), and keyboard mashing / noise, which otherwise lands on `affirm`.
OOS = [
    "天气",
    "股票",
    "彩票",
    "外卖",
    "快递",
    "电影",
    "游戏",
    "足球比赛",
    "菜谱",
    "旅游景点",
    "高考分数",
    "手机套餐",
    "房价",
    "基金",
    "明星八卦",
    "减肥方法",
    "机票",
    "酒店",
    "星座运势",
    "笑话",
    "新闻",
    "菜价",
    "歌曲",
    "小说",
]
OOS_ASK = ["帮我查一下", "推荐一下", "给我说说", "聊聊", "跟我讲讲", "我想了解一下", "你懂不懂"]
DEVICES = ["手机", "电脑", "冰箱", "洗衣机", "空调", "电视", "路由器", "打印机", "热水器"]
DEVICE_ASK = ["坏了怎么修", "怎么设置", "卡了怎么办", "连不上网怎么办", "怎么恢复出厂设置", "买哪个牌子好"]
# Government services that are not the federation's, asked with the same verbs as the
# `ask_policy` templates, so that the topic, not the question form, decides the intent.
OTHER_GOV = [
    "护照",
    "港澳通行证",
    "驾驶证换证",
    "公积金提取",
    "营业执照",
    "房产证",
    "结婚登记",
    "户口迁移",
    "车辆年检",
    "交通违章",
    "个税退税",
    "出生证明",
    "居住证",
    "签证",
]
GOV_ASK = ["怎么办理", "需要什么材料", "在哪里办", "要多长时间", "能不能网上办", "要交钱吗", "找谁办"]
KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"
NOISE = ["啊", "呀", "哦", "哇", "呜", "嘿", "哈", "咦", "呃", "啦", "嘻", "唔"]

DISTRICTS = ["朝阳区", "海淀区", "丰台区", "西城区", "东城区", "浦东新区", "天河区", "武侯区", "昌平区", "通州区"]
STREETS = ["八里庄街道", "学院路街道", "卢沟桥街道", "德胜街道", "花木街道", "林和街道", "回龙观街道", "城关镇"]
COMMUNITIES = ["红庙社区", "幸福社区", "新康社区", "光明村", "和平里社区", "阳光社区"]
TIMES = ["昨天", "前天下午", "上周一", "上个月", "三月份", "半年前", "今天早上", "上星期五", "去年冬天", "一直都这样"]
FULL_NAMES = ["王建国", "李秀英", "张伟", "刘芳", "陈桂兰", "赵立军", "孙丽"]
SURNAMES = ["王", "李", "张", "刘", "陈", "赵", "孙"]
ADDRESSED = ["陈阿姨", "赵先生", "孙女士", "老王", "小李"]


def pick(rng: random.Random, *parts: list[str]) -> str:
    return "".join(rng.choice(p) for p in parts)


HOLDOUT = OUT.parents[2] / "bot" / "tests" / "nlu_holdout.yml"


def hand_written() -> set[str]:
    """Normalised texts a template must not produce: those of the hand-written files (after
    the bot's normalisation "嗯，对" is "对"; a repeat only adds a copy to both the train and
    the test folds of cross-validation) and those of the held-out test set (no leakage)."""
    texts: set[str] = set()
    for path in [*OUT.parent.glob("*.yml"), HOLDOUT]:
        if path == OUT or not path.exists():
            continue
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for line in str(block.get("examples", "")).splitlines() if "intent" in block else []:
                if line.strip().startswith("- "):
                    texts.add(normalize(re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line.strip()[2:])))
    return texts


def generate(seed: int = 7, exclude: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    rng = random.Random(seed)
    taken = set(exclude)
    makers = {
        "complain": [
            lambda: pick(rng, OPENERS, COMPLAIN_HEAD) + "，" + pick(rng, PLACES, STAFF, WRONGS, COMPLAIN_TAIL),
            lambda: pick(rng, OPENERS, OWNER, MONEY, MONEY_WRONG, COMPLAIN_TAIL),
            lambda: pick(rng, OPENERS, PLACES, ["的"], STAFF, WRONGS, COMPLAIN_TAIL),
            lambda: pick(rng, OPENERS, DISTRICTS, BARRIERS) + "，" + pick(rng, COMPLAIN_HEAD),
        ],
        "request_help": [
            lambda: pick(rng, OPENERS, WHO, NEEDS) + "，" + pick(rng, HELP_HEAD),
            lambda: pick(rng, OPENERS, PROXY_HELP) + "，" + pick(rng, OTHERS_NEEDS),
            lambda: pick(rng, OPENERS, HELP_HEAD) + "，" + pick(rng, NEEDS),
        ],
        "ask_policy": [
            lambda: pick(rng, OPENERS, ASK_HEAD, TOPICS, ASK),
            lambda: pick(rng, PROXY_ASK, TOPICS, ASK),
        ],
        "emergency": [lambda: pick(rng, OPENERS, EMERG_WHO, DANGER, URGE)],
        "check_ticket_status": [
            lambda: pick(rng, OPENERS, STATUS_HEAD, STATUS_OBJ, STATUS_ASK),
            lambda: pick(rng, OPENERS, STATUS_HEAD, OWNER[3:], OTHERS_OBJ, STATUS_ASK),
            lambda: pick(rng, STATUS_HEAD, STATUS_OBJ, ["进度"]),
        ],
        "affirm": [lambda: pick(rng, AFFIRM_TAILED, POLITE_TAIL), lambda: pick(rng, AFFIRM) + "，" + pick(rng, AFFIRM)],
        "deny": [
            lambda: pick(rng, DENY, POLITE_TAIL),
            lambda: pick(rng, DENY_BA, ["吧"]),
            lambda: pick(rng, DENY) + "，" + pick(rng, DENY),
        ],
        "out_of_scope": [
            lambda: pick(rng, OPENERS, OOS_ASK, OOS),
            lambda: pick(rng, OOS_ASK, OOS),
            lambda: pick(rng, OPENERS, DEVICES, DEVICE_ASK),
            lambda: pick(rng, OPENERS, ASK_HEAD, OTHER_GOV, GOV_ASK),
            lambda: "".join(rng.choice(KEYBOARD) for _ in range(rng.randint(3, 7))),
            lambda: rng.choice([rng.choice(NOISE) * 3, (rng.choice(NOISE) + rng.choice(NOISE)) * 2]),
        ],
        "inform": [
            lambda: pick(rng, ["", "在", "我在", "地址是"], DISTRICTS, STREETS, COMMUNITIES),
            lambda: pick(rng, ["", "大概", "是", "就是"], TIMES),
            lambda: pick(rng, ["我叫", "名字是", "我的名字叫"], FULL_NAMES),
            lambda: pick(rng, ["我姓", "免贵姓", "姓"], SURNAMES),
            lambda: pick(rng, ["叫我", "我是"], ADDRESSED),
            lambda: (
                pick(rng, ["", "我的电话是", "手机号", "联系电话"])
                + "1"
                + "".join(rng.choice("3456789") + str(rng.randint(0, 999999999)).zfill(9))
            ),
        ],
    }
    out: dict[str, list[str]] = {}
    for intent, fns in makers.items():
        seen: set[str] = set()
        tries = 0
        wanted = EXTRA.get(intent, PER_INTENT)
        while len(seen) < wanted and tries < wanted * 50:
            tries += 1
            text = rng.choice(fns)().replace("，，", "，").strip("，")
            if text and len(text) <= 60 and normalize(text) not in taken:
                seen.add(text)
                taken.add(normalize(text))
        out[intent] = sorted(seen)
    return out


def main() -> None:
    data = generate(exclude=frozenset(hand_written()))
    lines = ['version: "3.1"', "", "# Generated by bot/nlu_tools/expand_templates.py: do not edit by hand.", "", "nlu:"]
    for intent, examples in data.items():
        lines.append(f"  - intent: {intent}")
        lines.append("    examples: |")
        lines += [f"      - {e}" for e in examples]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {sum(map(len, data.values()))} examples to {OUT}")


if __name__ == "__main__":
    main()
